-- dash_latency: mean and p50/p95/p99 latency per experiment x phase x routed_pct x cohort x
-- task_type (from dash_arms). Percentiles are the upper bound of the histogram bucket
-- holding the quantile (40 log buckets, bounds sy_lat_bounds()), NULL above 120 s.
DROP VIEW IF EXISTS dash_latency CASCADE;
CREATE VIEW dash_latency AS
SELECT experiment, phase, routed_pct, cohort, task_type, requests, latency_mean_ms,
       latency_p50_ms, latency_p95_ms, latency_p99_ms
FROM dash_arms;

COMMENT ON VIEW dash_latency IS 'Latency per arm: exact mean; p50/p95/p99 = upper bound (ms) of the latency_hist bucket holding the quantile, NULL above 120 s';
COMMENT ON COLUMN dash_latency.latency_p50_ms IS 'upper bound (ms) of the latency_hist bucket holding the median; NULL above 120 s';
COMMENT ON COLUMN dash_latency.latency_p95_ms IS 'upper bound (ms) of the latency_hist bucket holding the 95th percentile; NULL above 120 s';
COMMENT ON COLUMN dash_latency.latency_p99_ms IS 'upper bound (ms) of the latency_hist bucket holding the 99th percentile; NULL above 120 s';
