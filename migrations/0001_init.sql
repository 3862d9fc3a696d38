-- 0001_init: experiments, phases, decisions, requests (daily partitions), feedback, labels.
-- Applied by 'switchyard migrate' in one transaction; see docs/architecture.md,
-- "PostgreSQL schema and migrations".

-- An experiment definition (the JSON document) and its life-cycle status.
CREATE TABLE experiments (
    name        text PRIMARY KEY,
    definition  jsonb NOT NULL,
    status      text NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'running', 'paused', 'rolled_back', 'completed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every decision, automatic or human, with the evidence it was taken on.
-- task_type NULL: the decision is about the whole experiment.
CREATE TABLE decisions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    experiment  text NOT NULL REFERENCES experiments (name) ON DELETE CASCADE,
    ts          timestamptz NOT NULL DEFAULT now(),
    task_type   text,
    action      text NOT NULL
                CHECK (action IN ('start', 'advance', 'hold', 'hold_back', 'release', 'rollback',
                                  'pause', 'resume', 'promote', 'complete')),
    from_phase  text,
    to_phase    text,
    reason      text NOT NULL,
    evidence    jsonb NOT NULL DEFAULT '{}'::jsonb,
    actor       text NOT NULL DEFAULT 'controller'
);
CREATE INDEX decisions_experiment_ts ON decisions (experiment, ts);

-- Phase history: one row per phase an experiment (task_type NULL) or one of its task
-- types entered; left_at is NULL for the current one.
CREATE TABLE experiment_phases (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    experiment   text NOT NULL REFERENCES experiments (name) ON DELETE CASCADE,
    task_type    text,
    phase        text NOT NULL
                 CHECK (phase IN ('shadow', 'canary', 'ramp', 'full', 'paused', 'rolled_back',
                                  'held_back')),
    routed_pct   numeric(5, 2) NOT NULL DEFAULT 0 CHECK (routed_pct BETWEEN 0 AND 100),
    entered_at   timestamptz NOT NULL DEFAULT now(),
    left_at      timestamptz,
    decision_id  bigint REFERENCES decisions (id),
    CHECK (left_at IS NULL OR left_at >= entered_at)
);
CREATE INDEX experiment_phases_experiment ON experiment_phases (experiment, task_type, entered_at);
CREATE UNIQUE INDEX experiment_phases_current
    ON experiment_phases (experiment, coalesce(task_type, '')) WHERE left_at IS NULL;

-- One row per request, written by 'switchyard ingest' from the event stream. Columns are
-- exactly the event's keys (docs/architecture.md, "Request events"); ts comes from ts_us.
-- No CHECK constraints: a row the router could send must never block the ingest.
CREATE TABLE requests (
    request_id         text NOT NULL,
    ts                 timestamptz NOT NULL,
    project            text,
    user_hash          text,
    bucket             integer,
    experiment         text,
    phase              text,
    cohort             text,
    task_type          text,
    task_confidence    real,
    mode               text,
    served_model       text,
    provider           text,
    would_have_model   text,
    stream             boolean,
    status             integer,
    error              text,
    attempts           integer,
    tokens_in          integer,
    tokens_out         integer,
    cost_usd           double precision,
    baseline_cost_usd  double precision,
    latency_us         bigint,
    upstream_us        bigint,
    overhead_us        bigint,
    redis_fallback     boolean,
    PRIMARY KEY (request_id, ts)
) PARTITION BY RANGE (ts);

-- Catches any ts without a daily partition (far past, far future, a missed maintenance
-- run), so an event is never refused.
CREATE TABLE requests_default PARTITION OF requests DEFAULT;

CREATE INDEX requests_experiment_ts ON requests (experiment, ts);

-- Creates the daily partitions requests_YYYYMMDD for UTC days from_day .. from_day +
-- days_ahead that do not exist yet. It moves nothing: a day that already has rows in
-- requests_default is skipped (with a NOTICE), since attaching it would fail.
-- Returns how many partitions it created. Safe to call concurrently.
CREATE FUNCTION sy_create_request_partitions(
    days_ahead integer DEFAULT 7,
    from_day date DEFAULT (now() AT TIME ZONE 'UTC')::date
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d       date;
    part    text;
    lo      timestamptz;
    hi      timestamptz;
    created integer := 0;
BEGIN
    IF days_ahead < 0 OR days_ahead > 366 THEN
        RAISE EXCEPTION 'days_ahead must be between 0 and 366 (got %)', days_ahead;
    END IF;
    -- Serialise concurrent callers (migrate and every ingest).
    PERFORM pg_advisory_xact_lock(hashtext('switchyard.request_partitions'));
    FOR i IN 0 .. days_ahead LOOP
        d := from_day + i;
        part := 'requests_' || to_char(d, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
        lo := d::timestamp AT TIME ZONE 'UTC';
        hi := (d + 1)::timestamp AT TIME ZONE 'UTC';
        -- Creating the partition scans requests_default and fails if a row for that day
        -- is there. Take the lock CREATE ... PARTITION OF needs on the parent first, so no
        -- insert (which locks the parent before any partition) can slip a row into the
        -- default partition between this check and the CREATE, and no deadlock can form.
        LOCK TABLE requests IN ACCESS EXCLUSIVE MODE;
        IF EXISTS (SELECT 1 FROM requests_default WHERE ts >= lo AND ts < hi) THEN
            RAISE NOTICE 'requests_default has rows for %, partition % not created', d, part;
            CONTINUE;
        END IF;
        EXECUTE format('CREATE TABLE %I PARTITION OF requests FOR VALUES FROM (%L) TO (%L)',
                       part, lo, hi);
        created := created + 1;
    END LOOP;
    RETURN created;
END;
$$;

-- Feedback signals, keyed by the sender's idempotency key. content_hash (SHA-256 of the
-- signal's canonical content) tells a retry (same hash) from a conflicting reuse of the
-- key. request_id has no foreign key: feedback may arrive before its request row.
CREATE TABLE feedback (
    feedback_id   text PRIMARY KEY,
    request_id    text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('thumbs', 'rating', 'comment', 'ticket')),
    value         text,
    rating        smallint CHECK (rating BETWEEN 1 AND 5),
    comment       text,
    user_hash     text,
    created_at    timestamptz NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    content_hash  text NOT NULL,
    CHECK (kind <> 'thumbs' OR value IN ('up', 'down')),
    CHECK (kind <> 'rating' OR rating IS NOT NULL)
);
CREATE INDEX feedback_request_id ON feedback (request_id);
CREATE INDEX feedback_received_at ON feedback (received_at);

-- Human task-type labels: the classifier's accuracy audit and retraining set.
CREATE TABLE labels (
    request_id  text NOT NULL,
    labeller    text NOT NULL,
    task_type   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, labeller)
);
