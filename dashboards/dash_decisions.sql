-- dash_decisions: every decision (also those that changed no phase: hold, warn, apply),
-- with its evidence. Narrowed by switchyard.since.
DROP VIEW IF EXISTS dash_decisions CASCADE;
CREATE VIEW dash_decisions AS
SELECT experiment, ts, id AS decision_id, coalesce(task_type, 'all') AS task_type, action,
       from_phase, to_phase, actor, reason, evidence
FROM decisions
WHERE ts >= sy_dash_since();

COMMENT ON VIEW dash_decisions IS 'Every decision with its evidence';
