-- 0009_ingest_set_wise: ingest writes a batch without the parent table's triggers (issue 17).
--
-- Inserting through the partitioned parent `requests` routes every row, captures every row
-- into the transition tables of the two statement triggers (requests_rollup,
-- requests_attribute_feedback) and then aggregates them: about half of PostgreSQL's cost of
-- an ingested event. sy_ingest_requests() inserts a staged batch straight into each day's
-- partition, with the rollups computed in the same statement from the rows it actually
-- inserted (RETURNING of INSERT ... ON CONFLICT DO NOTHING), so a replayed batch adds
-- nothing twice. The triggers stay on the parent for everything else (psql, tests, tools)
-- and compute the same rows: the per-grain queries below are sy_rollup_requests()'s
-- (0006), over the inserted rows in the same order (tests/integration/test_ingest_setwise.py
-- compares both paths row for row).

-- One grain of the request rollups (0006's query, grain 'minute' or 'hour'), as SQL over the
-- relation src (the inserted rows). Used to build the statement below.
CREATE OR REPLACE FUNCTION sy_rollup_sql(grain text, src text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($$
    INSERT INTO %1$I AS r (%2$I, experiment, phase, routed_bp, cohort, task_type,
                          n, errors, cost_sum, cost_sq, baseline_cost_sum,
                          latency_sum_us, latency_hist,
                          tokens_in, cached_tokens, fallback_tier, fallback_default)
    SELECT g.t, g.experiment, g.phase, g.routed_bp, g.cohort, g.task_type,
           sum(g.n), sum(g.errors), sum(g.cost_sum), sum(g.cost_sq), sum(g.baseline_cost_sum),
           sum(g.latency_sum_us), sy_hist_of(array_agg(g.i), array_agg(g.n)),
           sum(g.tokens_in), sum(g.cached_tokens), sum(g.fallback_tier), sum(g.fallback_default)
    FROM (SELECT date_trunc(%3$L, ts) AS t, coalesce(experiment, '') AS experiment,
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
          FROM %4$s
          GROUP BY 1, 2, 3, 4, 5, 6, 7) g
    GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (experiment, phase, routed_bp, %2$I, cohort, task_type) DO UPDATE SET
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
        fallback_default = r.fallback_default + excluded.fallback_default$$,
    'rollups_' || grain, grain, grain, src)
$f$;

-- The trigger path, now built from the same text (0006's body, unchanged in effect).
CREATE OR REPLACE FUNCTION sy_rollup_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sy_rollup_sql('minute', 'ins');
    EXECUTE sy_rollup_sql('hour', 'ins');
    RETURN NULL;
END;
$$;

-- Inserts the rows of the staging table stage (the requests columns, except ts which is
-- ts_us bigint, microseconds since 1970: what ingest COPYs) into requests ON CONFLICT DO
-- NOTHING and returns how many were inserted. Rows of a UTC day that has its daily
-- partition (requests_YYYYMMDD, attached to requests) go straight into it, with the
-- minute and hour rollups added in the same statement and the feedback waiting for them
-- attributed right after it, as the parent's triggers would. Rows of any other day go
-- through the parent (requests_default, triggers and all). Days are written in
-- ascending order, so feedback gets the earliest ts of its request as with one statement.
CREATE OR REPLACE FUNCTION sy_ingest_requests(stage regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    cols  text;
    vals  text;
    day   bigint;
    lo    bigint;
    part  text;
    n     bigint;
    total bigint := 0;
    ids   text[];
    tss   timestamptz[];
    stmt  text;
BEGIN
    SELECT string_agg(CASE a.attname WHEN 'ts_us' THEN 'ts' ELSE quote_ident(a.attname) END,
                      ', ' ORDER BY a.attnum),
           string_agg(CASE a.attname
                          WHEN 'ts_us' THEN 'timestamptz ''epoch'' + ts_us * interval ''1 microsecond'''
                          ELSE quote_ident(a.attname) END,
                      ', ' ORDER BY a.attnum)
    INTO cols, vals
    FROM pg_attribute a
    WHERE a.attrelid = stage AND a.attnum > 0 AND NOT a.attisdropped;

    FOR day IN EXECUTE format('SELECT DISTINCT ts_us / 86400000000 FROM %s ORDER BY 1', stage)
    LOOP
        lo := day * 86400000000;
        SELECT c.relname INTO part
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'requests'::regclass
          AND c.relname = 'requests_' || to_char(date '1970-01-01' + day::integer, 'YYYYMMDD')
          AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'requests'::regclass);
        IF part IS NULL THEN
            EXECUTE format('INSERT INTO requests (%s) SELECT %s FROM %s '
                           'WHERE ts_us >= $1 AND ts_us < $2 ON CONFLICT DO NOTHING',
                           cols, vals, stage)
                USING lo, lo + 86400000000;
            GET DIAGNOSTICS n = ROW_COUNT;
        ELSE
            stmt := format('WITH ins AS (INSERT INTO %I (%s) SELECT %s FROM %s '
                           'WHERE ts_us >= $1 AND ts_us < $2 %%s'
                           'RETURNING request_id, ts, experiment, phase, routed_bp, cohort, '
                           'task_type, status, cost_usd, baseline_cost_usd, latency_us, '
                           'tokens_in, cached_tokens, fallback), '
                           'm AS (%s), h AS (%s) '
                           'SELECT count(*), array_agg(request_id), array_agg(ts) FROM ins',
                           part, cols, vals, stage,
                           sy_rollup_sql('minute', 'ins'), sy_rollup_sql('hour', 'ins'));
            -- A batch seldom holds a row already stored (a replay, a duplicate): first
            -- without ON CONFLICT, which probes the key index once more for every row
            -- (a tenth of PostgreSQL's work here), and only if that meets a duplicate
            -- (the subtransaction undoes it all) again with it.
            BEGIN
                EXECUTE format(stmt, '') USING lo, lo + 86400000000 INTO n, ids, tss;
            EXCEPTION WHEN unique_violation THEN
                EXECUTE format(stmt, 'ON CONFLICT DO NOTHING ')
                    USING lo, lo + 86400000000 INTO n, ids, tss;
            END;
            -- sy_feedback_attribute()'s UPDATE, as its own statement (a fresh snapshot, as
            -- the trigger has), over the requests this statement inserted; skipped when
            -- no feedback waits for its request at all.
            IF n > 0 AND EXISTS (SELECT 1 FROM feedback WHERE request_ts IS NULL) THEN
                UPDATE feedback f
                SET request_ts = r.ts,
                    late = f.created_at > r.ts + make_interval(secs => coalesce(f.attribution_window_s, 0))
                FROM (SELECT u.request_id, min(u.ts) AS ts FROM unnest(ids, tss) AS u(request_id, ts)
                      GROUP BY u.request_id) r
                WHERE f.request_ts IS NULL AND f.request_id = r.request_id;
            END IF;
        END IF;
        total := total + n;
    END LOOP;
    RETURN total;
END;
$$;
