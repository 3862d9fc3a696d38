-- 0008_retention: drop request partitions older than the retention period.
--
-- sy_drop_request_partitions(retention_days, today) drops every daily partition
-- requests_YYYYMMDD whose whole day lies before today - retention_days (UTC), and deletes
-- the rows older than that cutoff from requests_default (rows that arrived for a day
-- without a partition: they age out like the others). Returns how many partitions it
-- dropped. rollups_minute / rollups_hour are separate tables filled by the insert trigger
-- and are not touched: the aggregates outlive the rows. Feedback for a request whose row
-- is gone can no longer be folded into the rollups (sy_fold_feedback joins requests).
-- Safe to call concurrently with sy_create_request_partitions and with other callers: the
-- same advisory lock serialises them.
CREATE FUNCTION sy_drop_request_partitions(
    retention_days integer DEFAULT 30,
    today date DEFAULT (now() AT TIME ZONE 'UTC')::date
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    cutoff  date;
    part    record;
    dropped integer := 0;
BEGIN
    IF retention_days < 1 OR retention_days > 36500 THEN
        RAISE EXCEPTION 'retention_days must be between 1 and 36500 (got %)', retention_days;
    END IF;
    cutoff := today - retention_days;
    PERFORM pg_advisory_xact_lock(hashtext('switchyard.request_partitions'));
    FOR part IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'requests'::regclass
          AND c.relname ~ '^requests_[0-9]{8}$'
          AND to_date(substr(c.relname, 10), 'YYYYMMDD') < cutoff
        ORDER BY c.relname
    LOOP
        -- The parent's lock first, as sy_create_request_partitions takes it: an insert
        -- locks the parent before any partition, so this order cannot deadlock with one.
        LOCK TABLE requests IN ACCESS EXCLUSIVE MODE;
        EXECUTE format('DROP TABLE %I', part.relname);
        dropped := dropped + 1;
    END LOOP;
    DELETE FROM requests_default WHERE ts < (cutoff::timestamp AT TIME ZONE 'UTC');
    RETURN dropped;
END;
$$;
