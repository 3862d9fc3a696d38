-- 0011_rollup_once: the rollup grouping and its upsert each written once (no change in
-- effect). 0009's sy_rollup_sql (the trigger path's query) and 0010's
-- sy_ingest_day_sql (the stage path's) each spelled out the grouping of request rows,
-- and sy_rollup_sql restated sy_rollup_from_groups_sql's INSERT ... ON CONFLICT, so a
-- new rollup column had to be added in three places of SQL. Now:
--   sy_groups_sql(grain, src)       the groups of src's rows: the coalesced keys at grain
--                                   and the latency bucket, with their sums
--   sy_rollup_from_groups_sql(...)  (0010, unchanged) the upsert of one grain from groups
--   sy_rollup_sql(grain, src)       the second of the first, as 0009's query was: for
--                                   'minute' and 'hour' the same rows, and the same sums
--                                   in the same order (date_trunc of a truncated t is t)
-- ingest/rollup.c computes the minute groups in C for the fast path, as sy_groups_sql
-- does (tests/integration/test_ingest_setwise.py compares every path row for row).

CREATE OR REPLACE FUNCTION sy_groups_sql(grain text, src text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($$
    SELECT date_trunc(%1$L, ts) AS t, coalesce(experiment, '') AS experiment,
           coalesce(phase, '') AS phase, coalesce(routed_bp, 0) AS routed_bp,
           coalesce(cohort, '') AS cohort, coalesce(task_type, 'none') AS task_type,
           width_bucket(greatest(coalesce(latency_us, 0), 0) - 1, sy_lat_bounds()) + 1 AS i,
           count(*) AS n, count(*) FILTER (WHERE status >= 500) AS errors,
           coalesce(sum(cost_usd), 0) AS cost_sum,
           coalesce(sum(cost_usd * cost_usd), 0) AS cost_sq,
           coalesce(sum(baseline_cost_usd), 0) AS baseline_cost_sum,
           coalesce(sum(latency_us), 0) AS latency_sum_us,
           coalesce(sum(tokens_in), 0) AS tokens_in,
           coalesce(sum(cached_tokens), 0) AS cached_tokens,
           count(*) FILTER (WHERE fallback = 'tier') AS fallback_tier,
           count(*) FILTER (WHERE fallback = 'default') AS fallback_default
    FROM %2$s
    GROUP BY 1, 2, 3, 4, 5, 6, 7$$,
    grain, src)
$f$;

CREATE OR REPLACE FUNCTION sy_rollup_sql(grain text, src text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
SELECT sy_rollup_from_groups_sql(grain, '(' || sy_groups_sql(grain, src) || ')')
$f$;

-- 0010's statement for one day, its minute groups g now from sy_groups_sql.
CREATE OR REPLACE FUNCTION sy_ingest_day_sql(part text, cols text, vals text, stage text,
                                             conflict text, filter text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($$
    WITH ins AS (
        INSERT INTO %1$I (%2$s) SELECT %3$s FROM %4$s WHERE %8$s %5$s
        RETURNING ts, experiment, phase, routed_bp, cohort, task_type, status, cost_usd,
                  baseline_cost_usd, latency_us, tokens_in, cached_tokens, fallback
    ), g AS (%9$s), m AS (%6$s), h AS (%7$s)
    SELECT count(*) FROM ins$$,
    part, cols, vals, stage, conflict,
    sy_rollup_from_groups_sql('minute', 'g'), sy_rollup_from_groups_sql('hour', 'g'), filter,
    sy_groups_sql('minute', 'ins'))
$f$;
