-- Exit check 'max_touches', for the run's chains that set it: the chain already planned this many messages
-- for the instance. Reason 'max_touches'.
-- Inputs: crm.chain_run_members (exit_max_touches), crm.chain_instances (touches, kept up to date by
--   chains/engine/progress.sql).
-- Output: crm.chain_instances (status 'exited', exit_reason, exited_at, exited_run_key).
-- Parameters: :as_of, :run_key, :now.
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = 'max_touches',
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
            AND crm.chain_instances.touches >= m.exit_max_touches
    );
