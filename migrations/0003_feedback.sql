-- 0003_feedback: what POST /v1/feedback and POST /v1/labels need on top of 0001.
-- Additive only. See docs/architecture.md, "Feedback and labels".
--
-- feedback.project               the project whose secret signed the webhook
-- feedback.attribution_window_s  the router's window when the row was written, so a later
--                                config change does not reclassify old rows
-- feedback.request_ts            ts of the request row, once it is known (NULL: not seen yet)
-- feedback.late                  created_at later than request_ts + attribution_window_s;
--                                NULL while the request row is not known
-- "late" is set at insert when the request row already exists, otherwise by the
-- statement trigger on requests when 'switchyard ingest' writes the row.

ALTER TABLE feedback ADD COLUMN project text;
ALTER TABLE feedback ADD COLUMN attribution_window_s integer;
ALTER TABLE feedback ADD COLUMN request_ts timestamptz;
ALTER TABLE feedback ADD COLUMN late boolean;
CREATE INDEX feedback_unattributed ON feedback (request_id) WHERE request_ts IS NULL;

ALTER TABLE labels ADD COLUMN project text;

-- Inserts a batch of feedback in one statement (so one transaction). Returns only the
-- items that were not created: 'duplicate' (same feedback_id, same content_hash: an
-- idempotent repeat) or 'conflict' (same feedback_id, other content). With
-- all_or_nothing, any conflict rolls the whole batch back (nothing is created) and only
-- the conflicts are returned. Arrays are parallel and ids distinct (the router
-- deduplicates a batch before calling). created_ats NULL means "now".
CREATE FUNCTION sy_feedback_ingest(
    ids text[], request_ids text[], kinds text[], vals text[], ratings smallint[],
    comments text[], user_hashes text[], created_ats timestamptz[], hashes text[],
    p_project text, p_window_s integer, all_or_nothing boolean
) RETURNS TABLE (item_id text, item_status text)
LANGUAGE plpgsql AS $$
DECLARE
    created   text[];
    dups      text[];
    conflicts text[];
BEGIN
    BEGIN
        WITH input AS (
            SELECT * FROM unnest(ids, request_ids, kinds, vals, ratings, comments,
                                 user_hashes, created_ats, hashes)
                AS t(fid, rid, knd, val, rat, cmt, uh, cat, h)
        ), ins AS (
            INSERT INTO feedback (feedback_id, request_id, kind, value, rating, comment,
                                  user_hash, created_at, content_hash, project,
                                  attribution_window_s, request_ts, late)
            SELECT i.fid, i.rid, i.knd, i.val, i.rat, i.cmt, i.uh, coalesce(i.cat, now()), i.h,
                   p_project, p_window_s, r.ts,
                   CASE WHEN r.ts IS NULL THEN NULL
                        ELSE coalesce(i.cat, now()) > r.ts + make_interval(secs => p_window_s)
                   END
            FROM input i
            LEFT JOIN LATERAL (SELECT q.ts FROM requests q WHERE q.request_id = i.rid
                               ORDER BY q.ts LIMIT 1) r ON true
            ON CONFLICT (feedback_id) DO NOTHING
            RETURNING feedback.feedback_id
        )
        SELECT coalesce(array_agg(ins.feedback_id), '{}') INTO created FROM ins;

        -- Not inserted: an earlier row holds the id. ON CONFLICT waited for any concurrent
        -- inserter to finish, and this statement takes a new snapshot, so it sees that row.
        SELECT coalesce(array_agg(i.id) FILTER (WHERE f.content_hash = i.h), '{}'),
               coalesce(array_agg(i.id) FILTER (WHERE f.content_hash <> i.h), '{}')
        INTO dups, conflicts
        FROM unnest(ids, hashes) AS i(id, h)
        JOIN feedback f ON f.feedback_id = i.id
        LEFT JOIN unnest(created) AS c(id) ON c.id = i.id
        WHERE c.id IS NULL;

        IF all_or_nothing AND cardinality(conflicts) > 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'SY409'; -- undoes this block's inserts
        END IF;
    EXCEPTION WHEN SQLSTATE 'SY409' THEN
        dups := '{}';
    END;
    RETURN QUERY SELECT x, 'conflict'::text FROM unnest(conflicts) AS x
                 UNION ALL
                 SELECT x, 'duplicate'::text FROM unnest(dups) AS x;
END;
$$;

-- Labels: the same contract, keyed by (request_id, labeller); the content is task_type
-- and prompt (labels.prompt comes from 0002).
CREATE FUNCTION sy_labels_ingest(
    request_ids text[], labellers text[], task_types text[], prompts text[], p_project text,
    all_or_nothing boolean
) RETURNS TABLE (item_request_id text, item_labeller text, item_status text)
LANGUAGE plpgsql AS $$
DECLARE
    created_r   text[];
    created_l   text[];
BEGIN
    BEGIN
        WITH ins AS (
            INSERT INTO labels (request_id, labeller, task_type, prompt, project)
            SELECT t.r, t.lb, t.tt, t.pr, p_project
            FROM unnest(request_ids, labellers, task_types, prompts) AS t(r, lb, tt, pr)
            ON CONFLICT (request_id, labeller) DO NOTHING
            RETURNING labels.request_id, labels.labeller
        )
        SELECT coalesce(array_agg(ins.request_id), '{}'), coalesce(array_agg(ins.labeller), '{}')
        INTO created_r, created_l FROM ins;

        IF all_or_nothing AND EXISTS (
            SELECT 1 FROM unnest(request_ids, labellers, task_types, prompts) AS i(r, lb, tt, pr)
            JOIN labels l ON l.request_id = i.r AND l.labeller = i.lb
            WHERE l.task_type <> i.tt OR l.prompt IS DISTINCT FROM i.pr) THEN
            RAISE EXCEPTION USING ERRCODE = 'SY409'; -- undoes this block's inserts
        END IF;
    EXCEPTION WHEN SQLSTATE 'SY409' THEN
        created_r := '{}';
        created_l := '{}';
    END;
    RETURN QUERY
    SELECT i.r, i.lb,
           CASE WHEN l.task_type = i.tt AND l.prompt IS NOT DISTINCT FROM i.pr THEN 'duplicate'
                ELSE 'conflict' END
    FROM unnest(request_ids, labellers, task_types, prompts) AS i(r, lb, tt, pr)
    JOIN labels l ON l.request_id = i.r AND l.labeller = i.lb
    LEFT JOIN unnest(created_r, created_l) AS c(r, lb) ON c.r = i.r AND c.lb = i.lb
    WHERE c.r IS NULL;
END;
$$;

-- When 'switchyard ingest' writes request rows, attribute the feedback that arrived
-- first. One set-based UPDATE per ingest statement; the partial index keeps it to the
-- feedback still waiting for its request.
CREATE FUNCTION sy_feedback_attribute() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE feedback f
    SET request_ts = n.ts,
        late = f.created_at > n.ts + make_interval(secs => coalesce(f.attribution_window_s, 0))
    FROM (SELECT r.request_id, min(r.ts) AS ts FROM new_requests r GROUP BY r.request_id) n
    WHERE f.request_ts IS NULL AND f.request_id = n.request_id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER requests_attribute_feedback
    AFTER INSERT ON requests
    REFERENCING NEW TABLE AS new_requests
    FOR EACH STATEMENT EXECUTE FUNCTION sy_feedback_attribute();
