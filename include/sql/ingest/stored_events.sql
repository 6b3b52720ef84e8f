-- Ingest step before ingest/events.sql: the stored copy (its loaded_at) of each event the window reads, to
-- tell rows seen by an earlier run and duplicates from new rows.
-- Inputs: shop.events, crm.events. Output: the temporary table stored_events (event_id, loaded_at).
-- Parameters: :window_start, :window_end, :loaded_at_limit (the window of ingest/events.sql).
-- DuckDB joins the window's ids to the stored ones by hashing them; PostgreSQL reads the variant beside this
-- file (stored_events.postgresql.sql), which looks each id up by the key.
DROP TABLE IF EXISTS stored_events;

CREATE TEMP TABLE stored_events AS
SELECT
    e.event_id,
    e.loaded_at
FROM crm.events AS e
WHERE
    e.event_id IN (
        SELECT s.event_id
        FROM shop.events AS s
        WHERE
            (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
            OR s.loaded_at >= :loaded_at_limit
    );
