-- A chain's configured steps as the engine last wrote them, in order (compared with its YAML file).
-- Inputs: crm.chain_steps. Output: step_no, step_id, delay_s, branch. Parameters: :chain_id.
SELECT
    step_no,
    step_id,
    delay_s,
    branch
FROM crm.chain_steps
WHERE chain_id = :chain_id
ORDER BY step_no;
