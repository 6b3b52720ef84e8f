-- Due steps handed to the contact policy in one chains run, per chain and step.
-- Inputs: crm.due_steps. Outputs: chain_id, step_id, step_no, channel, due. Parameters: :run_key.
SELECT
    chain_id,
    step_id,
    MIN(step_no) AS step_no,
    MIN(channel) AS channel,
    COUNT(*) AS due
FROM crm.due_steps
WHERE run_key = :run_key
GROUP BY chain_id, step_id
ORDER BY chain_id, step_no, step_id
