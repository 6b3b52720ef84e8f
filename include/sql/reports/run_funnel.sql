-- The policy funnel of one chains run per chain and step: every due step's decision (outcome and reason) and,
-- for planned ones, the current state of its message in the send ledger.
-- Inputs: crm.decisions, crm.send_ledger. Outputs: chain_id, step_id, outcome, reason, state, steps.
-- Parameters: :run_key.
SELECT
    d.chain_id,
    d.step_id,
    d.outcome,
    COALESCE(d.reason, '') AS reason,
    COALESCE(l.state, '') AS state,
    COUNT(*) AS steps
FROM crm.decisions AS d
LEFT JOIN crm.send_ledger AS l ON d.send_key = l.send_key
WHERE d.run_key = :run_key
GROUP BY d.chain_id, d.step_id, d.outcome, COALESCE(d.reason, ''), COALESCE(l.state, '')
ORDER BY d.chain_id, d.step_id
