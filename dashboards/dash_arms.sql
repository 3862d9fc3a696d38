-- dash_arms: every metric of one arm, from rollups_minute (the sums the controller reads
-- per hour). Grain: experiment x phase x routed_pct x cohort x task_type. The views
-- dash_quality, dash_latency read it. See dashboards/README.md.
DROP VIEW IF EXISTS dash_arms CASCADE;
CREATE VIEW dash_arms AS
WITH s AS (
    SELECT experiment, phase, routed_bp, cohort, task_type,
           min(minute) AS first_minute, max(minute) AS last_minute,
           sum(n)::bigint AS n, sum(errors)::bigint AS errors,
           sum(cost_sum) AS cost, sum(baseline_cost_sum) AS baseline,
           sum(latency_sum_us)::float8 AS latency_sum_us, sy_hist_sum(latency_hist) AS hist,
           sum(thumbs)::bigint AS thumbs, sum(thumbs_down)::bigint AS thumbs_down,
           sum(ratings)::bigint AS ratings, sum(rating_sum) AS rating_sum,
           sum(rating_sq) AS rating_sq, sum(rated)::bigint AS rated
    FROM rollups_minute
    WHERE minute >= sy_dash_since()
    GROUP BY experiment, phase, routed_bp, cohort, task_type
)
SELECT experiment, phase, round(routed_bp / 100.0, 2) AS routed_pct, cohort, task_type,
       first_minute, last_minute,
       n AS requests,
       errors,
       round((errors::float8 / nullif(n, 0))::numeric, 4) AS error_rate,
       round(cost::numeric, 6) AS cost_usd,
       round((cost / nullif(n, 0))::numeric, 6) AS cost_per_request,
       round(baseline::numeric, 6) AS baseline_usd,
       round((baseline - cost)::numeric, 6) AS savings_usd,
       round((100 * (baseline - cost) / nullif(baseline, 0))::numeric, 1) AS savings_pct,
       thumbs, thumbs_down,
       round((thumbs_down::float8 / nullif(thumbs, 0))::numeric, 4) AS thumbs_down_rate,
       round(sy_wilson_lo(thumbs_down, thumbs)::numeric, 4) AS thumbs_down_lo,
       round(sy_wilson_hi(thumbs_down, thumbs)::numeric, 4) AS thumbs_down_hi,
       ratings,
       round((rating_sum / nullif(ratings, 0))::numeric, 2) AS rating,
       round(sy_mean_ci(ratings, rating_sum, rating_sq, false)::numeric, 2) AS rating_lo,
       round(sy_mean_ci(ratings, rating_sum, rating_sq, true)::numeric, 2) AS rating_hi,
       rated,
       round((latency_sum_us / nullif(n, 0) / 1000.0)::numeric, 1) AS latency_mean_ms,
       sy_hist_quantile_ms(hist, 0.50) AS latency_p50_ms,
       sy_hist_quantile_ms(hist, 0.95) AS latency_p95_ms,
       sy_hist_quantile_ms(hist, 0.99) AS latency_p99_ms
FROM s;

COMMENT ON VIEW dash_arms IS 'Every metric per experiment x phase x routed_pct x cohort x task_type, from rollups_minute; narrowed by SET switchyard.since';
COMMENT ON COLUMN dash_arms.latency_p50_ms IS 'upper bound (ms) of the latency_hist bucket holding the median; NULL above 120 s';
COMMENT ON COLUMN dash_arms.latency_p95_ms IS 'upper bound (ms) of the latency_hist bucket holding the 95th percentile; NULL above 120 s';
COMMENT ON COLUMN dash_arms.latency_p99_ms IS 'upper bound (ms) of the latency_hist bucket holding the 99th percentile; NULL above 120 s';
COMMENT ON COLUMN dash_arms.thumbs_down_lo IS 'Wilson 95% interval of thumbs_down_rate, lower bound';
COMMENT ON COLUMN dash_arms.thumbs_down_hi IS 'Wilson 95% interval of thumbs_down_rate, upper bound';
COMMENT ON COLUMN dash_arms.rating_lo IS 'normal 95% interval of the mean rating, lower bound (NULL below 2 ratings)';
COMMENT ON COLUMN dash_arms.rating_hi IS 'normal 95% interval of the mean rating, upper bound (NULL below 2 ratings)';
COMMENT ON COLUMN dash_arms.baseline_usd IS 'the same tokens at the default model''s price (single-model baseline)';
