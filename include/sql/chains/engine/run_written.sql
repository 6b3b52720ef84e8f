-- Whether an earlier attempt of this run already wrote anything of the run's chains (then clear_run.sql
-- removes it before the run writes its due steps again); a first attempt reads instead of deleting nothing
-- four times.
-- Inputs: crm.chain_run_members, crm.due_steps, crm.chain_step_log, crm.chain_runs, crm.chain_run_failures.
-- Output: written (boolean). Parameters: :run_key.
SELECT
    EXISTS (
        SELECT 1 FROM crm.due_steps AS d
        INNER JOIN crm.chain_run_members AS m ON d.chain_id = m.chain_id AND m.run_key = :run_key
        WHERE d.run_key = :run_key
    )
    OR EXISTS (
        SELECT 1 FROM crm.chain_step_log AS l
        INNER JOIN crm.chain_run_members AS m ON l.chain_id = m.chain_id AND m.run_key = :run_key
        WHERE l.run_key = :run_key
    )
    OR EXISTS (
        SELECT 1 FROM crm.chain_runs AS r
        INNER JOIN crm.chain_run_members AS m ON r.chain_id = m.chain_id AND m.run_key = :run_key
        WHERE r.run_key = :run_key
    )
    OR EXISTS (
        SELECT 1 FROM crm.chain_run_failures AS f
        INNER JOIN crm.chain_run_members AS m ON f.chain_id = m.chain_id AND m.run_key = :run_key
        WHERE f.run_key = :run_key
    ) AS written;
