-- Per chain, for one chains run: candidates found, customers who entered, exited and completed, due steps.
-- Inputs: crm.chain_runs (written when a chain finishes its phases). Outputs: chain_id, candidates, entered,
-- exited, completed, due_steps, skipped_steps. Parameters: :run_key.
SELECT
    chain_id,
    candidates,
    entered,
    exited,
    completed,
    due_steps,
    skipped_steps
FROM crm.chain_runs
WHERE run_key = :run_key
ORDER BY chain_id
