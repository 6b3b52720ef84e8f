-- Exit check 'time_limit', for the run's chains that set one: the instance has been in the chain for longer
-- than the chain allows. Reason 'time_limit'.
-- Inputs: crm.chain_run_members (exit_entered_before: the run's as-of time less the limit),
--   crm.chain_instances.
-- Output: crm.chain_instances (status 'exited', exit_reason, exited_at, exited_run_key).
-- Parameters: :as_of, :run_key, :now.
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = 'time_limit',
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE
    status = 'active'
    AND EXISTS (
        SELECT 1
        FROM crm.chain_run_members AS m
        WHERE
            m.run_key = :run_key
            AND m.chain_id = crm.chain_instances.chain_id
            AND crm.chain_instances.entered_at <= m.exit_entered_before
    );
