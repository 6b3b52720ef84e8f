-- What the send-time check of the contact policy did to the messages a chains run planned: held back (and
-- when, how often) or dropped, by chain, step and reason, with the state each message is in now.
-- Inputs: crm.send_ledger. Outputs: chain_id, step_id, reason, state, messages, holds.
-- Parameters: :run_key.
SELECT
    chain_id,
    step_id,
    hold_reason AS reason,
    state,
    COUNT(*) AS messages,
    SUM(COALESCE(held_count, 0)) AS holds
FROM crm.send_ledger
WHERE run_key = :run_key AND hold_reason IS NOT NULL
GROUP BY chain_id, step_id, hold_reason, state
ORDER BY chain_id, step_id, hold_reason, state
