-- 0005_rollup_set_based: the request rollup trigger without a PL/pgSQL call per row.
--
-- 0004's trigger built each group's latency histogram with the aggregate sy_hist, whose
-- state function is PL/pgSQL and copies the 40-bucket array for every row, twice per row
-- (minute and hour): about half of PostgreSQL's cost of ingesting a request. Here each
-- grain is aggregated in two set-based steps: first per group and histogram bucket
-- (plain count/sum), then per group, the bucket counts placed into the histogram once
-- per group by sy_hist_of. The rows written are the same.

-- Histogram (as sy_hist builds it) from parallel arrays of bucket indexes (1-based) and
-- counts; an index may repeat.
CREATE FUNCTION sy_hist_of(idx integer[], cnt bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(coalesce(c.n, 0) ORDER BY s.i)
    FROM generate_series(1, array_length(sy_lat_bounds(), 1) + 1) AS s(i)
    LEFT JOIN (SELECT u.i, sum(u.n) AS n FROM unnest(idx, cnt) AS u(i, n) GROUP BY u.i) c
           ON c.i = s.i
$$;

CREATE OR REPLACE FUNCTION sy_rollup_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollups_minute AS r (minute, experiment, phase, routed_bp, cohort, task_type,
                                     n, errors, cost_sum, cost_sq, baseline_cost_sum,
                                     latency_sum_us, latency_hist)
    SELECT g.t, g.experiment, g.phase, g.routed_bp, g.cohort, g.task_type,
           sum(g.n), sum(g.errors), sum(g.cost_sum), sum(g.cost_sq), sum(g.baseline_cost_sum),
           sum(g.latency_sum_us), sy_hist_of(array_agg(g.i), array_agg(g.n))
    FROM (SELECT date_trunc('minute', ts) AS t, coalesce(experiment, '') AS experiment,
                 coalesce(phase, '') AS phase, coalesce(routed_bp, 0) AS routed_bp,
                 coalesce(cohort, '') AS cohort, coalesce(task_type, 'none') AS task_type,
                 width_bucket(greatest(coalesce(latency_us, 0), 0) - 1, sy_lat_bounds()) + 1 AS i,
                 count(*) AS n, count(*) FILTER (WHERE status >= 500) AS errors,
                 coalesce(sum(cost_usd), 0) AS cost_sum,
                 coalesce(sum(cost_usd * cost_usd), 0) AS cost_sq,
                 coalesce(sum(baseline_cost_usd), 0) AS baseline_cost_sum,
                 coalesce(sum(latency_us), 0) AS latency_sum_us
          FROM ins
          GROUP BY 1, 2, 3, 4, 5, 6, 7) g
    GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (experiment, phase, routed_bp, minute, cohort, task_type) DO UPDATE SET
        n = r.n + excluded.n,
        errors = r.errors + excluded.errors,
        cost_sum = r.cost_sum + excluded.cost_sum,
        cost_sq = r.cost_sq + excluded.cost_sq,
        baseline_cost_sum = r.baseline_cost_sum + excluded.baseline_cost_sum,
        latency_sum_us = r.latency_sum_us + excluded.latency_sum_us,
        latency_hist = sy_hist_add(r.latency_hist, excluded.latency_hist);
    INSERT INTO rollups_hour AS r (hour, experiment, phase, routed_bp, cohort, task_type,
                                   n, errors, cost_sum, cost_sq, baseline_cost_sum,
                                   latency_sum_us, latency_hist)
    SELECT g.t, g.experiment, g.phase, g.routed_bp, g.cohort, g.task_type,
           sum(g.n), sum(g.errors), sum(g.cost_sum), sum(g.cost_sq), sum(g.baseline_cost_sum),
           sum(g.latency_sum_us), sy_hist_of(array_agg(g.i), array_agg(g.n))
    FROM (SELECT date_trunc('hour', ts) AS t, coalesce(experiment, '') AS experiment,
                 coalesce(phase, '') AS phase, coalesce(routed_bp, 0) AS routed_bp,
                 coalesce(cohort, '') AS cohort, coalesce(task_type, 'none') AS task_type,
                 width_bucket(greatest(coalesce(latency_us, 0), 0) - 1, sy_lat_bounds()) + 1 AS i,
                 count(*) AS n, count(*) FILTER (WHERE status >= 500) AS errors,
                 coalesce(sum(cost_usd), 0) AS cost_sum,
                 coalesce(sum(cost_usd * cost_usd), 0) AS cost_sq,
                 coalesce(sum(baseline_cost_usd), 0) AS baseline_cost_sum,
                 coalesce(sum(latency_us), 0) AS latency_sum_us
          FROM ins
          GROUP BY 1, 2, 3, 4, 5, 6, 7) g
    GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (experiment, phase, routed_bp, hour, cohort, task_type) DO UPDATE SET
        n = r.n + excluded.n,
        errors = r.errors + excluded.errors,
        cost_sum = r.cost_sum + excluded.cost_sum,
        cost_sq = r.cost_sq + excluded.cost_sq,
        baseline_cost_sum = r.baseline_cost_sum + excluded.baseline_cost_sum,
        latency_sum_us = r.latency_sum_us + excluded.latency_sum_us,
        latency_hist = sy_hist_add(r.latency_hist, excluded.latency_hist);
    RETURN NULL;
END;
$$;
