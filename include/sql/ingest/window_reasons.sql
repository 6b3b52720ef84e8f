-- Quarantined rows of one ingest window by source table and reason, most frequent first: the quality gate
-- names the top reasons of a table it fails. Rows of the window stay counted when an earlier run of the same
-- window quarantined them.
-- Inputs: crm.quarantine. Outputs: source_table, reason, row_count.
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future; every run reads and quarantines them).
SELECT
    source_table,
    reason,
    COUNT(*) AS row_count
FROM crm.quarantine
WHERE
    (loaded_at >= :window_start AND loaded_at < :window_end)
    OR loaded_at >= :loaded_at_limit
GROUP BY source_table, reason
ORDER BY source_table ASC, row_count DESC, reason ASC
