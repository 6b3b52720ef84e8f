-- The most frequent quarantine reasons of one source table over all ingest runs.
-- Inputs: crm.quarantine. Outputs: reason, row_count (at most three rows). Parameters: :source_table.
SELECT
    reason,
    COUNT(*) AS row_count
FROM crm.quarantine
WHERE source_table = :source_table
GROUP BY reason
ORDER BY row_count DESC, reason ASC
LIMIT 3
