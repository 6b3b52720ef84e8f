-- Figures of the latest ingest run per source table, for the demo's report.
-- Inputs: crm.ingest_runs. Outputs: source_table, rows_read, rows_loaded, rows_quarantined, rows_deferred.
-- Parameters: none.
WITH latest AS (
    SELECT run_key
    FROM crm.ingest_runs
    ORDER BY finished_at DESC, run_key DESC
    LIMIT 1
)

SELECT
    r.source_table,
    r.rows_read,
    r.rows_loaded,
    r.rows_quarantined,
    r.rows_deferred
FROM crm.ingest_runs AS r
INNER JOIN latest AS l ON r.run_key = l.run_key
ORDER BY r.source_table
