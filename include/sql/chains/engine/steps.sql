-- Every chain's configured steps as the engine last wrote them, in order (compared with the YAML files).
-- Inputs: crm.chain_steps. Output: chain_id, step_no, step_id, delay_s, branch. Parameters: none.
SELECT
    chain_id,
    step_no,
    step_id,
    delay_s,
    branch
FROM crm.chain_steps
ORDER BY chain_id, step_no;
