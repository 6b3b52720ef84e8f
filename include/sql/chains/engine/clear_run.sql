-- Forget what a previous attempt of this run wrote for the run's chains (due steps, skips, figures, a
-- recorded failure), so a re-run of the same run key writes exactly the same rows again.
-- Inputs: crm.chain_run_members. Output: crm.due_steps, crm.chain_step_log, crm.chain_runs,
--   crm.chain_run_failures (the run's rows of its chains).
-- Parameters: :run_key.
DELETE FROM crm.due_steps
WHERE
    run_key = :run_key
    AND chain_id IN (
        SELECT m.chain_id FROM crm.chain_run_members AS m
        WHERE m.run_key = :run_key
    );

DELETE FROM crm.chain_step_log
WHERE
    run_key = :run_key
    AND chain_id IN (
        SELECT m.chain_id FROM crm.chain_run_members AS m
        WHERE m.run_key = :run_key
    );

DELETE FROM crm.chain_runs
WHERE
    run_key = :run_key
    AND chain_id IN (
        SELECT m.chain_id FROM crm.chain_run_members AS m
        WHERE m.run_key = :run_key
    );

DELETE FROM crm.chain_run_failures
WHERE
    run_key = :run_key
    AND chain_id IN (
        SELECT m.chain_id FROM crm.chain_run_members AS m
        WHERE m.run_key = :run_key
    );
