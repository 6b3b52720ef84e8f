-- Whether an earlier attempt of this run already wrote anything of the chain (then clear_run.sql removes it
-- before the run writes its due steps again); a first attempt reads instead of deleting nothing four times.
-- Inputs: crm.due_steps, crm.chain_step_log, crm.chain_runs, crm.chain_run_failures.
-- Output: written (boolean). Parameters: :run_key, :chain_id.
SELECT
    EXISTS (
        SELECT 1 FROM crm.due_steps
        WHERE run_key = :run_key AND chain_id = :chain_id
    )
    OR EXISTS (
        SELECT 1 FROM crm.chain_step_log
        WHERE run_key = :run_key AND chain_id = :chain_id
    )
    OR EXISTS (
        SELECT 1 FROM crm.chain_runs
        WHERE run_key = :run_key AND chain_id = :chain_id
    )
    OR EXISTS (
        SELECT 1 FROM crm.chain_run_failures
        WHERE run_key = :run_key AND chain_id = :chain_id
    ) AS written;
