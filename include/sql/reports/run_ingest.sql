-- Figures of one ingest run per source table.
-- Inputs: crm.ingest_runs. Outputs: source_table, window_start, window_end, rows_read, rows_loaded,
-- rows_quarantined, rows_deferred, finished_at. Parameters: :run_key.
SELECT
    source_table,
    window_start,
    window_end,
    rows_read,
    rows_loaded,
    rows_quarantined,
    rows_deferred,
    finished_at
FROM crm.ingest_runs
WHERE run_key = :run_key
ORDER BY source_table
