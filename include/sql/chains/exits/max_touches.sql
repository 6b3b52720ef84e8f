-- Exit check 'max_touches': the chain already planned this many messages for the instance.
-- Reason 'max_touches'.
-- Inputs: crm.chain_instances (touches, kept up to date by chains/engine/progress.sql).
-- Output: crm.chain_instances (status 'exited', exit_reason, exited_at, exited_run_key).
-- Parameters: :chain_id, :max_touches, :as_of, :run_key, :now.
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = 'max_touches',
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE chain_id = :chain_id AND status = 'active' AND touches >= :max_touches;
