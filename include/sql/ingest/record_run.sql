-- Record one source table's figures for an ingest run and move its watermark forward (never back).
-- Inputs: none. Outputs: crm.ingest_runs (upsert by run_key and table), crm.watermarks (upsert).
-- Parameters: :run_key, :source_table, :window_start, :window_end, :rows_read, :rows_loaded,
--             :rows_quarantined, :rows_deferred, :now.
INSERT INTO crm.ingest_runs (
    run_key, source_table, window_start, window_end, rows_read, rows_loaded, rows_quarantined,
    rows_deferred, finished_at
)
VALUES (
    :run_key, :source_table, :window_start, :window_end, :rows_read, :rows_loaded, :rows_quarantined,
    :rows_deferred, :now
)
ON CONFLICT (run_key, source_table) DO UPDATE SET
    window_start = excluded.window_start,
    window_end = excluded.window_end,
    rows_read = excluded.rows_read,
    rows_loaded = excluded.rows_loaded,
    rows_quarantined = excluded.rows_quarantined,
    rows_deferred = excluded.rows_deferred,
    finished_at = excluded.finished_at;

INSERT INTO crm.watermarks (source_table, loaded_through, updated_at)
VALUES (:source_table, :window_end, :now)
ON CONFLICT (source_table) DO UPDATE SET
    loaded_through = GREATEST(watermarks.loaded_through, excluded.loaded_through),
    updated_at = excluded.updated_at;
