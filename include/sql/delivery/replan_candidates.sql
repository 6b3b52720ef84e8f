-- What a re-plan would touch: failed rows matching the filters, by template, fresh or past their limit.
-- inputs: crm.send_ledger; outputs: template, fresh, stale
-- params: :prefix, :chain_id, :since, :now
SELECT
    template,
    SUM(CASE WHEN expires_at > :now THEN 1 ELSE 0 END) AS fresh,
    SUM(CASE WHEN expires_at <= :now THEN 1 ELSE 0 END) AS stale
FROM crm.send_ledger
WHERE
    state = 'failed'
    AND last_error LIKE :prefix || '%'
    AND (CAST(:chain_id AS VARCHAR) IS NULL OR chain_id = :chain_id)
    AND updated_at >= :since
GROUP BY template
ORDER BY template;
