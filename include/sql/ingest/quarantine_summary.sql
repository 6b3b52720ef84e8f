-- Quarantined rows of the sources by table and reason, for run summaries and the demo's report.
-- Inputs: crm.quarantine. Outputs: source_table, reason, row_count. Parameters: :since (quarantined_at >=).
SELECT
    source_table,
    reason,
    COUNT(*) AS row_count
FROM crm.quarantine
WHERE quarantined_at >= :since
GROUP BY source_table, reason
ORDER BY source_table, reason
