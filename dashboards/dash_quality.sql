-- dash_quality: errors, thumbs-down rate and rating with their 95% intervals, per
-- experiment x phase x routed_pct x cohort x task_type (from dash_arms).
DROP VIEW IF EXISTS dash_quality CASCADE;
CREATE VIEW dash_quality AS
SELECT experiment, phase, routed_pct, cohort, task_type, requests, errors, error_rate,
       thumbs, thumbs_down, thumbs_down_rate, thumbs_down_lo, thumbs_down_hi,
       ratings, rating, rating_lo, rating_hi
FROM dash_arms;

COMMENT ON VIEW dash_quality IS 'Errors (status >= 500), thumbs-down rate (Wilson 95%) and mean rating (normal 95%) per arm';
