-- 0004_controller: what the controller needs: the experiment's live state, exact
-- per-minute rollups of requests and feedback, the notification outbox, and the
-- routed share each request was served under (so each ramp step is its own sample).
-- See docs/architecture.md, "Controller".

-- The routed share (basis points of eligible users) the router applied.
ALTER TABLE requests ADD COLUMN routed_bp integer;

-- Live state of an experiment, owned by the controller (published to Redis).
ALTER TABLE experiments
    ADD COLUMN step            integer NOT NULL DEFAULT 0,
    ADD COLUMN salt            text,
    ADD COLUMN held_back       text[] NOT NULL DEFAULT '{}',
    ADD COLUMN human_held      text[] NOT NULL DEFAULT '{}',
    ADD COLUMN human_pinned    text[] NOT NULL DEFAULT '{}',
    ADD COLUMN version         bigint NOT NULL DEFAULT 0,
    ADD COLUMN started_at      timestamptz,
    ADD COLUMN step_started_at timestamptz,
    ADD COLUMN last_evaluation jsonb;

ALTER TABLE decisions DROP CONSTRAINT decisions_action_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_action_check
    CHECK (action IN ('apply', 'start', 'advance', 'hold', 'hold_back', 'release', 'rollback',
                      'pause', 'resume', 'promote', 'complete', 'warn'));

-- Latency histogram: bucket i counts latencies in (bound[i-1], bound[i]] microseconds,
-- the last bucket everything above 120 s. The bounds are experiments/stats.h's
-- EXP_LAT_BOUNDS_US_INIT (a unit test compares the two).
CREATE FUNCTION sy_lat_bounds() RETURNS bigint[] LANGUAGE sql IMMUTABLE AS
$$ SELECT '{1000,1400,1900,2500,3400,4700,6300,8600,12000,16000,22000,30000,40000,55000,74000,100000,140000,190000,250000,350000,470000,640000,870000,1200000,1600000,2200000,3000000,4100000,5500000,7500000,10000000,14000000,19000000,26000000,35000000,48000000,65000000,88000000,120000000}'::bigint[] $$;

CREATE FUNCTION sy_hist_step(s bigint[], latency_us bigint) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    i integer := width_bucket(greatest(coalesce(latency_us, 0), 0) - 1, sy_lat_bounds()) + 1;
BEGIN
    s[i] := s[i] + 1;
    RETURN s;
END;
$$;

CREATE FUNCTION sy_hist_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i)
    FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i)
$$;

CREATE AGGREGATE sy_hist(bigint) (SFUNC = sy_hist_step, STYPE = bigint[], INITCOND = '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}');

-- Exact per-minute sums per experiment x phase x routed share x cohort x task type.
-- Requests are added by the trigger below in the transaction that inserts them (so a
-- replayed batch, which inserts nothing, adds nothing); feedback is folded in by the
-- controller once its request row is known (feedback.rolled_up).
CREATE TABLE rollups_minute (
    minute            timestamptz NOT NULL,
    experiment        text NOT NULL,
    phase             text NOT NULL,
    routed_bp         integer NOT NULL,
    cohort            text NOT NULL,
    task_type         text NOT NULL,
    n                 bigint NOT NULL DEFAULT 0,
    errors            bigint NOT NULL DEFAULT 0,
    cost_sum          double precision NOT NULL DEFAULT 0,
    cost_sq           double precision NOT NULL DEFAULT 0,
    baseline_cost_sum double precision NOT NULL DEFAULT 0,
    latency_sum_us    bigint NOT NULL DEFAULT 0,
    latency_hist      bigint[] NOT NULL DEFAULT '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}',
    thumbs            bigint NOT NULL DEFAULT 0,
    thumbs_down       bigint NOT NULL DEFAULT 0,
    ratings           bigint NOT NULL DEFAULT 0,
    rating_sum        double precision NOT NULL DEFAULT 0,
    rating_sq         double precision NOT NULL DEFAULT 0,
    rated             bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment, phase, routed_bp, minute, cohort, task_type)
);

-- The same sums per hour: what the controller's evaluation reads, so its cost follows
-- hours x cohorts x task types (a week of a phase is ~2,000 rows whatever the traffic).
-- Kept in step with rollups_minute by the same statements.
CREATE TABLE rollups_hour (
    hour              timestamptz NOT NULL,
    experiment        text NOT NULL,
    phase             text NOT NULL,
    routed_bp         integer NOT NULL,
    cohort            text NOT NULL,
    task_type         text NOT NULL,
    n                 bigint NOT NULL DEFAULT 0,
    errors            bigint NOT NULL DEFAULT 0,
    cost_sum          double precision NOT NULL DEFAULT 0,
    cost_sq           double precision NOT NULL DEFAULT 0,
    baseline_cost_sum double precision NOT NULL DEFAULT 0,
    latency_sum_us    bigint NOT NULL DEFAULT 0,
    latency_hist      bigint[] NOT NULL DEFAULT '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}',
    thumbs            bigint NOT NULL DEFAULT 0,
    thumbs_down       bigint NOT NULL DEFAULT 0,
    ratings           bigint NOT NULL DEFAULT 0,
    rating_sum        double precision NOT NULL DEFAULT 0,
    rating_sq         double precision NOT NULL DEFAULT 0,
    rated             bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment, phase, routed_bp, hour, cohort, task_type)
);

CREATE FUNCTION sy_rollup_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rollups_minute AS r (minute, experiment, phase, routed_bp, cohort, task_type,
                                     n, errors, cost_sum, cost_sq, baseline_cost_sum,
                                     latency_sum_us, latency_hist)
    SELECT date_trunc('minute', ts), coalesce(experiment, ''), coalesce(phase, ''),
           coalesce(routed_bp, 0), coalesce(cohort, ''), coalesce(task_type, 'none'),
           count(*), count(*) FILTER (WHERE status >= 500),
           coalesce(sum(cost_usd), 0), coalesce(sum(cost_usd * cost_usd), 0),
           coalesce(sum(baseline_cost_usd), 0), coalesce(sum(latency_us), 0),
           sy_hist(latency_us)
    FROM ins
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
    SELECT date_trunc('hour', ts), coalesce(experiment, ''), coalesce(phase, ''),
           coalesce(routed_bp, 0), coalesce(cohort, ''), coalesce(task_type, 'none'),
           count(*), count(*) FILTER (WHERE status >= 500),
           coalesce(sum(cost_usd), 0), coalesce(sum(cost_usd * cost_usd), 0),
           coalesce(sum(baseline_cost_usd), 0), coalesce(sum(latency_us), 0),
           sy_hist(latency_us)
    FROM ins
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

CREATE TRIGGER requests_rollup AFTER INSERT ON requests
    REFERENCING NEW TABLE AS ins FOR EACH STATEMENT EXECUTE FUNCTION sy_rollup_requests();

-- Feedback not yet folded into rollups_minute.
ALTER TABLE feedback ADD COLUMN rolled_up boolean NOT NULL DEFAULT false;
CREATE INDEX feedback_not_rolled_up ON feedback (received_at) WHERE NOT rolled_up;

-- Folds the feedback whose request row is known into the request's rollup, once.
-- Late feedback (after its request's attribution window) is marked but not counted.
-- Returns how many signals were counted.
CREATE FUNCTION sy_fold_feedback(max_rows integer DEFAULT 50000) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    WITH pending AS (
        SELECT fb.feedback_id
        FROM feedback fb
        WHERE NOT fb.rolled_up
          AND EXISTS (SELECT 1 FROM requests q WHERE q.request_id = fb.request_id)
        ORDER BY fb.received_at
        LIMIT max_rows
        FOR UPDATE SKIP LOCKED
    ), marked AS (
        UPDATE feedback fb SET rolled_up = true
        FROM pending WHERE fb.feedback_id = pending.feedback_id
        RETURNING fb.request_id, fb.kind, fb.value, fb.rating, fb.late
    ), joined AS (
        SELECT date_trunc('minute', q.ts) AS minute, date_trunc('hour', q.ts) AS hour, coalesce(q.experiment, '') AS experiment,
               coalesce(q.phase, '') AS phase, coalesce(q.routed_bp, 0) AS routed_bp,
               coalesce(q.cohort, '') AS cohort, coalesce(q.task_type, 'none') AS task_type,
               m.request_id, m.kind, m.value, m.rating
        FROM marked m JOIN requests q ON q.request_id = m.request_id
        WHERE m.late IS NOT TRUE
    ), ins AS (
        INSERT INTO rollups_minute AS r (minute, experiment, phase, routed_bp, cohort, task_type,
                                         thumbs, thumbs_down, ratings, rating_sum, rating_sq,
                                         rated)
        SELECT minute, experiment, phase, routed_bp, cohort, task_type,
               count(*) FILTER (WHERE kind = 'thumbs'),
               count(*) FILTER (WHERE kind = 'thumbs' AND value = 'down'),
               count(*) FILTER (WHERE kind = 'rating' AND rating IS NOT NULL),
               coalesce(sum(rating) FILTER (WHERE kind = 'rating'), 0),
               coalesce(sum(rating * rating) FILTER (WHERE kind = 'rating'), 0),
               count(DISTINCT request_id)
        FROM joined
        GROUP BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (experiment, phase, routed_bp, minute, cohort, task_type) DO UPDATE SET
            thumbs = r.thumbs + excluded.thumbs,
            thumbs_down = r.thumbs_down + excluded.thumbs_down,
            ratings = r.ratings + excluded.ratings,
            rating_sum = r.rating_sum + excluded.rating_sum,
            rating_sq = r.rating_sq + excluded.rating_sq,
            rated = r.rated + excluded.rated
    ), ins_hour AS (
        INSERT INTO rollups_hour AS r (hour, experiment, phase, routed_bp, cohort, task_type,
                                       thumbs, thumbs_down, ratings, rating_sum, rating_sq,
                                       rated)
        SELECT hour, experiment, phase, routed_bp, cohort, task_type,
               count(*) FILTER (WHERE kind = 'thumbs'),
               count(*) FILTER (WHERE kind = 'thumbs' AND value = 'down'),
               count(*) FILTER (WHERE kind = 'rating' AND rating IS NOT NULL),
               coalesce(sum(rating) FILTER (WHERE kind = 'rating'), 0),
               coalesce(sum(rating * rating) FILTER (WHERE kind = 'rating'), 0),
               count(DISTINCT request_id)
        FROM joined
        GROUP BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (experiment, phase, routed_bp, hour, cohort, task_type) DO UPDATE SET
            thumbs = r.thumbs + excluded.thumbs,
            thumbs_down = r.thumbs_down + excluded.thumbs_down,
            ratings = r.ratings + excluded.ratings,
            rating_sum = r.rating_sum + excluded.rating_sum,
            rating_sq = r.rating_sq + excluded.rating_sq,
            rated = r.rated + excluded.rated
    )
    -- (data-modifying CTEs run whether or not they are referenced)
    SELECT count(*) INTO folded FROM joined;
    RETURN folded;
END;
$$;

-- Notification outbox: decisions waiting to be delivered to webhooks (retried).
CREATE TABLE notifications (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    experiment    text NOT NULL,
    decision_id   bigint REFERENCES decisions (id) ON DELETE CASCADE,
    url           text NOT NULL,
    secret_env    text,
    body          text NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer NOT NULL DEFAULT 5,
    next_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz,
    last_error    text
);
CREATE INDEX notifications_due ON notifications (next_at) WHERE delivered_at IS NULL;
