-- The policy funnel of one run per chain: due steps by outcome and reason.
-- Inputs: crm.decisions. Outputs: chain_id, outcome, reason, steps. Parameters: :run_key.
SELECT
    chain_id,
    outcome,
    COALESCE(reason, '') AS reason,
    COUNT(*) AS steps
FROM crm.decisions
WHERE run_key = :run_key
GROUP BY chain_id, outcome, COALESCE(reason, '')
ORDER BY chain_id, outcome, reason
