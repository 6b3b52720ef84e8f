-- Rows one ingest run quarantined, by source table and reason (the run stamps them with its finish time).
-- Inputs: crm.quarantine, crm.ingest_runs. Outputs: source_table, reason, row_count. Parameters: :run_key.
SELECT
    q.source_table,
    q.reason,
    COUNT(*) AS row_count
FROM crm.quarantine AS q
INNER JOIN crm.ingest_runs AS r
    ON q.source_table = r.source_table AND q.quarantined_at = r.finished_at
WHERE r.run_key = :run_key
GROUP BY q.source_table, q.reason
ORDER BY q.source_table, q.reason
