-- dash_phase_history: every phase an experiment (task_type 'all') or one of its task types
-- entered, with the decision that put it there and that decision's evidence.
-- Narrowed by switchyard.since to phases still current at or after it.
DROP VIEW IF EXISTS dash_phase_history CASCADE;
CREATE VIEW dash_phase_history AS
SELECT p.experiment, coalesce(p.task_type, 'all') AS task_type, p.phase, p.routed_pct,
       p.entered_at, p.left_at, d.id AS decision_id, d.action, d.actor, d.reason, d.evidence
FROM experiment_phases p
LEFT JOIN decisions d ON d.id = p.decision_id
WHERE coalesce(p.left_at, 'infinity'::timestamptz) >= sy_dash_since();

COMMENT ON VIEW dash_phase_history IS 'Phase history (experiment_phases) with the decision and evidence of each change';
