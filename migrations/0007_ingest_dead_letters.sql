-- 0007_ingest_dead_letters: events PostgreSQL keeps refusing (issue 15).
--
-- ingest checks every value before COPY, so a batch should never fail on its data; but a
-- constraint or trigger added by hand, or a bug, can make one event fail the same way on
-- every try, and ingest would then retry its batch forever while everything behind it
-- waits. After --max-tries failures with a data or constraint error (SQLSTATE classes 21,
-- 22, 23, 27, 2F, 38, 39, 44, P0) ingest finds the failing events by bisecting the batch,
-- stores each one here with the error, and commits the rest. Connection, resource,
-- timeout and schema errors (a missing table) are never dead-lettered: they are retried
-- until fixed, as before.
--
-- The event is kept byte for byte as the router wrote it: after fixing the cause, replay
-- it with XADD sy:events * e <event>. (stream_id, md5(event)) is unique so a batch
-- replayed after a crash does not store its dead letters twice.

CREATE TABLE ingest_dead_letters (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id text NOT NULL,      -- the sy:events entry the event came in
    event text NOT NULL,          -- the event JSON as received
    sqlstate text NOT NULL,       -- PostgreSQL's error code
    error text NOT NULL,          -- PostgreSQL's message (one line)
    tries integer NOT NULL,       -- failed attempts of its batch before it was set aside
    failed_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX ingest_dead_letters_entry ON ingest_dead_letters (stream_id, md5(event));
