-- dash_savings: cost against the single-model baseline (the same tokens at the default
-- model's price), per experiment x phase x routed_pct x cohort x task_type, plus one row
-- per arm with task_type 'all'. share_pct is the task type's share of the arm's requests;
-- the *_per_day columns scale the totals to a day at the arm's observed rate (requests
-- over the minutes from its first to its last minute, inclusive). cached_tokens are the
-- prompt tokens read from a provider's cache; fallback_tier / fallback_default count the
-- answers a same-tier model of another provider / the default model gave after failover.
DROP VIEW IF EXISTS dash_savings CASCADE;
CREATE VIEW dash_savings AS
WITH g AS (
    SELECT experiment, phase, routed_bp, cohort,
           coalesce(task_type, 'all') AS task_type, grouping(task_type) AS is_total,
           sum(n)::bigint AS n, sum(cost_sum) AS cost, sum(baseline_cost_sum) AS baseline,
           sum(tokens_in)::bigint AS prompt_tokens, sum(cached_tokens)::bigint AS cached_tokens,
           sum(fallback_tier)::bigint AS fallback_tier,
           sum(fallback_default)::bigint AS fallback_default,
           min(minute) AS first_minute, max(minute) AS last_minute
    FROM rollups_minute
    WHERE minute >= sy_dash_since()
    GROUP BY GROUPING SETS ((experiment, phase, routed_bp, cohort, task_type),
                            (experiment, phase, routed_bp, cohort))
), w AS (
    SELECT g.*,
           sum(n) FILTER (WHERE is_total = 1)
               OVER (PARTITION BY experiment, phase, routed_bp, cohort) AS arm_n,
           extract(epoch FROM max(last_minute) OVER (PARTITION BY experiment, phase, routed_bp, cohort)
                              - min(first_minute) OVER (PARTITION BY experiment, phase, routed_bp, cohort)
                              + interval '1 minute') / 86400.0 AS days
    FROM g
)
SELECT experiment, phase, round(routed_bp / 100.0, 2) AS routed_pct, cohort, task_type,
       n AS requests,
       round(100.0 * n / nullif(arm_n, 0), 1) AS share_pct,
       round(baseline::numeric, 4) AS baseline_usd,
       round(cost::numeric, 4) AS cost_usd,
       round((baseline - cost)::numeric, 4) AS savings_usd,
       round((100 * (baseline - cost) / nullif(baseline, 0))::numeric, 1) AS savings_pct,
       round((baseline / nullif(n, 0))::numeric, 6) AS baseline_per_request,
       round((cost / nullif(n, 0))::numeric, 6) AS cost_per_request,
       round(days::numeric, 4) AS days,
       round((n / days)::numeric, 1) AS requests_per_day,
       round((baseline / days)::numeric, 2) AS baseline_usd_per_day,
       round((cost / days)::numeric, 2) AS cost_usd_per_day,
       round(((baseline - cost) / days)::numeric, 2) AS savings_usd_per_day,
       prompt_tokens, cached_tokens,
       round((100.0 * cached_tokens / nullif(prompt_tokens, 0))::numeric, 1) AS cached_pct,
       fallback_tier, fallback_default
FROM w;

COMMENT ON VIEW dash_savings IS 'Cost vs the single-model baseline per arm and task type (task_type all = the arm), with the observed mix and per-day figures';
COMMENT ON COLUMN dash_savings.baseline_usd IS 'the same tokens at the default model''s price (single-model baseline)';
COMMENT ON COLUMN dash_savings.cached_tokens IS 'prompt tokens read from the provider''s cache (priced at cached_input_usd_per_mtok, baseline too)';
COMMENT ON COLUMN dash_savings.fallback_default IS 'answers the experiment''s default model gave after the routed candidates failed';
COMMENT ON COLUMN dash_savings.days IS 'first to last minute of the arm, inclusive, in days';
