-- dash_classifier_accuracy: the classifier against human labels, per experiment x the
-- task type the classifier gave (the controller's shadow check: one label row counts once,
-- correct when its task_type equals the request's). Wilson 95% interval.
DROP VIEW IF EXISTS dash_classifier_accuracy CASCADE;
CREATE VIEW dash_classifier_accuracy AS
WITH c AS (
    SELECT coalesce(q.experiment, '') AS experiment, q.task_type,
           count(*) AS labels, count(*) FILTER (WHERE l.task_type = q.task_type) AS correct
    FROM labels l
    JOIN requests q ON q.request_id = l.request_id
    WHERE q.task_type IS NOT NULL AND q.ts >= sy_dash_since()
    GROUP BY 1, 2
)
SELECT experiment, task_type, labels, correct,
       round(correct::numeric / nullif(labels, 0), 4) AS accuracy,
       round(sy_wilson_lo(correct, labels)::numeric, 4) AS accuracy_lo,
       round(sy_wilson_hi(correct, labels)::numeric, 4) AS accuracy_hi
FROM c;

COMMENT ON VIEW dash_classifier_accuracy IS 'Classifier accuracy against human labels per predicted task type, Wilson 95%';
