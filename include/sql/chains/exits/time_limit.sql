-- Exit check 'time_limit': the instance has been in the chain for longer than the chain allows.
-- Reason 'time_limit'.
-- Inputs: crm.chain_instances. Output: crm.chain_instances (status 'exited', exit_reason, exited_at,
--   exited_run_key). Parameters: :chain_id, :entered_before (as-of time minus the limit), :as_of, :run_key,
--   :now.
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = 'time_limit',
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE chain_id = :chain_id AND status = 'active' AND entered_at <= :entered_before;
