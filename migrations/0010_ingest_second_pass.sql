-- 0010_ingest_second_pass: less PostgreSQL work per ingested event (issue 17, second pass;
-- docs/benchmarks.md, "Ingest set-wise (issue 17)", "Second pass").
--
-- 1. The (experiment, ts) index on requests goes: every ingested row paid a second btree
--    insert (with a text key) for it, and no query needs it. The controller's shadow check
--    (controller/ctl_tick.c) and dash_classifier_accuracy start from the few labels and
--    reach requests by request_id (the primary key's first column); dash_shadow_routing
--    filters on cohort and ts (partition pruning on ts, no experiment); sy_fold_feedback and
--    sy_feedback_ingest look requests up by request_id; retention drops partitions and
--    deletes from requests_default by ts. Nothing reads requests by experiment: the
--    per-experiment figures all come from the rollups.
-- 2. sy_ingest_requests() groups the inserted rows once, at the minute (and latency bucket),
--    and sums those groups up to the hour, instead of aggregating every row twice. Integer
--    columns and the histograms are the same as the trigger path's; the float sums
--    (cost_sum, cost_sq, baseline_cost_sum) of rollups_hour are added in another order, so
--    they may differ from the trigger path's in the last bits.
-- 3. The feedback attribution no longer collects every inserted row's (request_id, ts) into
--    arrays: when some feedback waits at all, the rows of the stage that feedback waits for
--    are joined with it (feedback_unattributed is a partial index on just those).

DROP INDEX IF EXISTS requests_experiment_ts;

-- One grain's upsert from the minute groups in src (0009's sy_rollup_sql with the inner
-- aggregation replaced by src; for 'minute' date_trunc is the identity). src has the inner
-- query's columns: t, experiment, phase, routed_bp, cohort, task_type (coalesced), i (the
-- latency bucket), n, errors, cost_sum, cost_sq, baseline_cost_sum, latency_sum_us,
-- tokens_in, cached_tokens, fallback_tier, fallback_default.
CREATE OR REPLACE FUNCTION sy_rollup_from_groups_sql(grain text, src text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($$
    INSERT INTO %1$I AS r (%2$I, experiment, phase, routed_bp, cohort, task_type,
                          n, errors, cost_sum, cost_sq, baseline_cost_sum,
                          latency_sum_us, latency_hist,
                          tokens_in, cached_tokens, fallback_tier, fallback_default)
    SELECT date_trunc(%2$L, g.t), g.experiment, g.phase, g.routed_bp, g.cohort, g.task_type,
           sum(g.n), sum(g.errors), sum(g.cost_sum), sum(g.cost_sq), sum(g.baseline_cost_sum),
           sum(g.latency_sum_us), sy_hist_of(array_agg(g.i), array_agg(g.n)),
           sum(g.tokens_in), sum(g.cached_tokens), sum(g.fallback_tier), sum(g.fallback_default)
    FROM %3$s g
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
    'rollups_' || grain, grain, src)
$f$;

-- The statement for one day: the staged rows matching filter (the day's bounds) into the
-- day partition part, the minute groups (g) once from the inserted rows, rollups_minute
-- from them, rollups_hour summed from them. conflict is '' or 'ON CONFLICT DO NOTHING '.
-- Its result is one row: how many rows were inserted.
CREATE OR REPLACE FUNCTION sy_ingest_day_sql(part text, cols text, vals text, stage text,
                                             conflict text, filter text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($$
    WITH ins AS (
        INSERT INTO %1$I (%2$s) SELECT %3$s FROM %4$s WHERE %8$s %5$s
        RETURNING ts, experiment, phase, routed_bp, cohort, task_type, status, cost_usd,
                  baseline_cost_usd, latency_us, tokens_in, cached_tokens, fallback
    ), g AS (
        SELECT date_trunc('minute', ts) AS t, coalesce(experiment, '') AS experiment,
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
        GROUP BY 1, 2, 3, 4, 5, 6, 7
    ), m AS (%6$s), h AS (%7$s)
    SELECT count(*) FROM ins$$,
    part, cols, vals, stage, conflict,
    sy_rollup_from_groups_sql('minute', 'g'), sy_rollup_from_groups_sql('hour', 'g'), filter)
$f$;

-- sy_feedback_attribute()'s UPDATE, as its own statement (a fresh snapshot, as the
-- trigger has), for the feedback that waits for a request among src's rows matching
-- filter; tsexpr is the earliest ts of a request there (an aggregate over src s). Called
-- only when some feedback waits at all (feedback_unattributed is a partial index on
-- exactly those rows). sy_ingest_requests() and sy_ingest_groups() say which rows src
-- holds and why the result is the trigger's.
CREATE OR REPLACE FUNCTION sy_attribute_sql(src text, filter text, tsexpr text) RETURNS text
LANGUAGE sql IMMUTABLE AS $f$
SELECT format($$
    UPDATE feedback f
    SET request_ts = r.ts,
        late = f.created_at > r.ts + make_interval(secs => coalesce(f.attribution_window_s, 0))
    FROM (SELECT s.request_id, %3$s AS ts
          FROM %1$s s
          WHERE %2$s
            AND s.request_id IN (SELECT w.request_id FROM feedback w WHERE w.request_ts IS NULL)
          GROUP BY s.request_id) r
    WHERE f.request_ts IS NULL AND f.request_id = r.request_id$$,
    src, filter, tsexpr)
$f$;

-- As 0009's (same contract: the staged rows into requests ON CONFLICT DO NOTHING, returns
-- how many were inserted; rows of a day without its partition go through the parent and
-- its triggers), with the statement above for a day that has its partition. The stage
-- holds the requests columns, ts either as ts_us bigint (microseconds since 1970, as
-- ingest staged it before 0010) or as ts timestamptz (ingest's binary COPY now).
CREATE OR REPLACE FUNCTION sy_ingest_requests(stage regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    cols   text;
    vals   text;
    us     boolean;
    day    bigint;
    filter text;
    part   text;
    n      bigint;
    total  bigint := 0;
BEGIN
    SELECT string_agg(CASE a.attname WHEN 'ts_us' THEN 'ts' ELSE quote_ident(a.attname) END,
                      ', ' ORDER BY a.attnum),
           string_agg(CASE a.attname
                          WHEN 'ts_us' THEN 'timestamptz ''epoch'' + ts_us * interval ''1 microsecond'''
                          ELSE quote_ident(a.attname) END,
                      ', ' ORDER BY a.attnum),
           bool_or(a.attname = 'ts_us')
    INTO cols, vals, us
    FROM pg_attribute a
    WHERE a.attrelid = stage AND a.attnum > 0 AND NOT a.attisdropped;

    FOR day IN EXECUTE format(CASE WHEN us THEN 'SELECT DISTINCT ts_us / 86400000000 FROM %s ORDER BY 1'
                                   ELSE 'SELECT DISTINCT (ts AT TIME ZONE ''UTC'')::date - date ''1970-01-01'' FROM %s ORDER BY 1'
                              END, stage)
    LOOP
        -- the day's bounds, as constants of the statements below
        filter := CASE WHEN us THEN format('ts_us >= %s AND ts_us < %s',
                                           day * 86400000000, (day + 1) * 86400000000)
                       ELSE format('ts >= timestamptz ''epoch'' + interval ''1 day'' * %s AND '
                                   'ts < timestamptz ''epoch'' + interval ''1 day'' * %s', day, day + 1)
                  END;
        SELECT c.relname INTO part
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'requests'::regclass
          AND c.relname = 'requests_' || to_char(date '1970-01-01' + day::integer, 'YYYYMMDD')
          AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'requests'::regclass);
        IF part IS NULL THEN
            EXECUTE format('INSERT INTO requests (%s) SELECT %s FROM %s WHERE %s ON CONFLICT DO NOTHING',
                           cols, vals, stage, filter);
            GET DIAGNOSTICS n = ROW_COUNT;
        ELSE
            -- First without ON CONFLICT (no second probe of the key index per row); a
            -- duplicate (a replay) undoes the subtransaction, and it runs again with it.
            BEGIN
                EXECUTE sy_ingest_day_sql(part, cols, vals, stage::text, '', filter) INTO n;
            EXCEPTION WHEN unique_violation THEN
                EXECUTE sy_ingest_day_sql(part, cols, vals, stage::text,
                                          'ON CONFLICT DO NOTHING ', filter) INTO n;
            END;
            -- The requests for the attribution are the stage's rows of this day rather
            -- than the inserted ones: a staged row that was not inserted has its
            -- (request_id, ts) stored already, so it is a stored request too. That differs
            -- from the trigger only for feedback that waits for a request stored earlier,
            -- which can only be feedback written while that request's batch was in flight
            -- (sy_feedback_ingest's lookup did not see the uncommitted row, the batch's
            -- UPDATE did not see the uncommitted feedback): the trigger leaves it
            -- unattributed for good; here a replay of that batch attributes it. Days go in
            -- ascending order and feedback attributed on one day no longer waits on the
            -- next, so feedback still gets the earliest ts of its request in the stage, as
            -- the trigger over the whole statement gives it.
            IF EXISTS (SELECT 1 FROM feedback WHERE request_ts IS NULL) THEN
                EXECUTE sy_attribute_sql(stage::text, filter,
                    CASE WHEN us THEN 'timestamptz ''epoch'' + min(s.ts_us) * interval ''1 microsecond'''
                         ELSE 'min(s.ts)' END);
            END IF;
        END IF;
        total := total + n;
    END LOOP;
    RETURN total;
END;
$$;

-- ingest's fast path for a batch of one UTC day (ingest/store.c): the rows were COPYed
-- straight into part (that day's partition) and ingest aggregated them itself into groups
-- (the minute groups g of sy_ingest_day_sql, same columns, computed the same way: ingest/
-- rollup.c), so what is left is upserting the rollups from the groups and attributing
-- the feedback. Raises SY422 if part is not a partition of requests (a table of that
-- name that is not attached: ingest then rolls back to before its COPY and takes the
-- stage path). A duplicate row made the COPY fail already (ingest takes the stage path
-- then, too), so all of the day's rows of the batch are new here.
-- The attribution looks the waiting feedback up in the partition rather than in the
-- batch: every row of the partition is a stored request, and one of an earlier batch can
-- only be waited for by feedback written while that batch was in flight (see
-- sy_ingest_requests), which the trigger path leaves unattributed and this attributes.
CREATE OR REPLACE FUNCTION sy_ingest_groups(part text, groups regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                   WHERE i.inhparent = 'requests'::regclass AND c.relname = part
                     AND c.relnamespace = (SELECT relnamespace FROM pg_class
                                           WHERE oid = 'requests'::regclass)) THEN
        RAISE EXCEPTION USING ERRCODE = 'SY422',
            MESSAGE = format('%s is not a partition of requests', part);
    END IF;
    EXECUTE sy_rollup_from_groups_sql('minute', groups::text);
    EXECUTE sy_rollup_from_groups_sql('hour', groups::text);
    -- per waiting feedback one probe of the partition's key index (its first column)
    IF EXISTS (SELECT 1 FROM feedback WHERE request_ts IS NULL) THEN
        EXECUTE format(
            'UPDATE feedback f '
            'SET request_ts = r.ts, '
            '    late = f.created_at > r.ts + make_interval(secs => coalesce(f.attribution_window_s, 0)) '
            'FROM (SELECT w.feedback_id, (SELECT min(s.ts) FROM %I s WHERE s.request_id = w.request_id) AS ts '
            '      FROM feedback w WHERE w.request_ts IS NULL) r '
            'WHERE f.feedback_id = r.feedback_id AND r.ts IS NOT NULL AND f.request_ts IS NULL',
            part);
    END IF;
END;
$$;
