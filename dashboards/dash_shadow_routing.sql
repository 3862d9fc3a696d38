-- dash_shadow_routing: the shadow phase's would-have-routed distribution: requests of
-- cohort 'shadow' per experiment x task_type x would_have_model, and the model's share of
-- the task type's shadow requests. Reads requests (rollups carry no model).
DROP VIEW IF EXISTS dash_shadow_routing CASCADE;
CREATE VIEW dash_shadow_routing AS
WITH c AS (
    SELECT coalesce(experiment, '') AS experiment, coalesce(task_type, 'none') AS task_type,
           coalesce(would_have_model, '') AS would_have_model, count(*) AS n
    FROM requests
    WHERE cohort = 'shadow' AND ts >= sy_dash_since()
    GROUP BY 1, 2, 3
)
SELECT experiment, task_type, would_have_model, n AS requests,
       round(100.0 * n / sum(n) OVER (PARTITION BY experiment, task_type), 1) AS share_pct
FROM c;

COMMENT ON VIEW dash_shadow_routing IS 'Shadow cohort: the model routing would have chosen, per task type (empty model: none logged)';
