-- 0006_provider_fields: what real providers add to a request (issue 13).
--
-- requests gains the event's new fields (wire/event.h): fallback (NULL, 'tier' or
-- 'default': which failover answered), sticky (the model came from the conversation's
-- first turn), cached_tokens and cache_write_tokens (of tokens_in: prompt tokens read
-- from / written to the provider's prompt cache, priced apart). The rollups gain the sums
-- the dashboards show per arm: prompt tokens, cached prompt tokens and the answers a
-- fallback gave; the rollup trigger keeps them.

ALTER TABLE requests
    ADD COLUMN fallback text,
    ADD COLUMN sticky boolean,
    ADD COLUMN cached_tokens integer,
    ADD COLUMN cache_write_tokens integer;

ALTER TABLE rollups_minute
    ADD COLUMN tokens_in bigint NOT NULL DEFAULT 0,
    ADD COLUMN cached_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN fallback_tier bigint NOT NULL DEFAULT 0,
    ADD COLUMN fallback_default bigint NOT NULL DEFAULT 0;
ALTER TABLE rollups_hour
    ADD COLUMN tokens_in bigint NOT NULL DEFAULT 0,
    ADD COLUMN cached_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN fallback_tier bigint NOT NULL DEFAULT 0,
    ADD COLUMN fallback_default bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION sy_rollup_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollups_minute AS r (minute, experiment, phase, routed_bp, cohort, task_type,
                          n, errors, cost_sum, cost_sq, baseline_cost_sum,
                          latency_sum_us, latency_hist,
                          tokens_in, cached_tokens, fallback_tier, fallback_default)
    SELECT g.t, g.experiment, g.phase, g.routed_bp, g.cohort, g.task_type,
           sum(g.n), sum(g.errors), sum(g.cost_sum), sum(g.cost_sq), sum(g.baseline_cost_sum),
           sum(g.latency_sum_us), sy_hist_of(array_agg(g.i), array_agg(g.n)),
           sum(g.tokens_in), sum(g.cached_tokens), sum(g.fallback_tier), sum(g.fallback_default)
    FROM (SELECT date_trunc('minute', ts) AS t, coalesce(experiment, '') AS experiment,
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
        latency_hist = sy_hist_add(r.latency_hist, excluded.latency_hist),
        tokens_in = r.tokens_in + excluded.tokens_in,
        cached_tokens = r.cached_tokens + excluded.cached_tokens,
        fallback_tier = r.fallback_tier + excluded.fallback_tier,
        fallback_default = r.fallback_default + excluded.fallback_default;
    INSERT INTO rollups_hour AS r (hour, experiment, phase, routed_bp, cohort, task_type,
                          n, errors, cost_sum, cost_sq, baseline_cost_sum,
                          latency_sum_us, latency_hist,
                          tokens_in, cached_tokens, fallback_tier, fallback_default)
    SELECT g.t, g.experiment, g.phase, g.routed_bp, g.cohort, g.task_type,
           sum(g.n), sum(g.errors), sum(g.cost_sum), sum(g.cost_sq), sum(g.baseline_cost_sum),
           sum(g.latency_sum_us), sy_hist_of(array_agg(g.i), array_agg(g.n)),
           sum(g.tokens_in), sum(g.cached_tokens), sum(g.fallback_tier), sum(g.fallback_default)
    FROM (SELECT date_trunc('hour', ts) AS t, coalesce(experiment, '') AS experiment,
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
        latency_hist = sy_hist_add(r.latency_hist, excluded.latency_hist),
        tokens_in = r.tokens_in + excluded.tokens_in,
        cached_tokens = r.cached_tokens + excluded.cached_tokens,
        fallback_tier = r.fallback_tier + excluded.fallback_tier,
        fallback_default = r.fallback_default + excluded.fallback_default;
    RETURN NULL;
END;
$$;
