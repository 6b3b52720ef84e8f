-- Record every source table's figures of an ingest run and move their watermarks forward (never back).
-- The figures come as parallel arrays, one element per source table.
-- Inputs: none. Outputs: crm.ingest_runs (upsert by run_key and table), crm.watermarks (upsert).
-- Parameters: :run_key, :window_start, :window_end, :now, and the arrays :source_tables, :rows_read,
--   :rows_loaded, :rows_quarantined, :rows_deferred.
INSERT INTO crm.ingest_runs (
    run_key, source_table, window_start, window_end, rows_read, rows_loaded, rows_quarantined,
    rows_deferred, finished_at
)
SELECT
    :run_key,
    f.source_table,
    CAST(:window_start AS TIMESTAMP) AS window_start,
    CAST(:window_end AS TIMESTAMP) AS window_end,
    f.rows_read,
    f.rows_loaded,
    f.rows_quarantined,
    f.rows_deferred,
    CAST(:now AS TIMESTAMP) AS finished_at
FROM (
    SELECT
        UNNEST(CAST(:source_tables AS VARCHAR[])) AS source_table,
        UNNEST(CAST(:rows_read AS BIGINT[])) AS rows_read,
        UNNEST(CAST(:rows_loaded AS BIGINT[])) AS rows_loaded,
        UNNEST(CAST(:rows_quarantined AS BIGINT[])) AS rows_quarantined,
        UNNEST(CAST(:rows_deferred AS BIGINT[])) AS rows_deferred
) AS f
ON CONFLICT (run_key, source_table) DO UPDATE SET
    window_start = excluded.window_start,
    window_end = excluded.window_end,
    rows_read = excluded.rows_read,
    rows_loaded = excluded.rows_loaded,
    rows_quarantined = excluded.rows_quarantined,
    rows_deferred = excluded.rows_deferred,
    finished_at = excluded.finished_at;

INSERT INTO crm.watermarks (source_table, loaded_through, updated_at)
SELECT
    UNNEST(CAST(:source_tables AS VARCHAR[])) AS source_table,
    CAST(:window_end AS TIMESTAMP) AS loaded_through,
    CAST(:now AS TIMESTAMP) AS updated_at
ON CONFLICT (source_table) DO UPDATE SET
    loaded_through = GREATEST(watermarks.loaded_through, excluded.loaded_through),
    updated_at = excluded.updated_at;
