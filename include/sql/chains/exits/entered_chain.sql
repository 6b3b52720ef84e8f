-- Exit check 'entered_chain': the customer entered one of the listed chains after entering this one.
-- Reason 'moved_to:<that chain>'.
-- Inputs: crm.chain_instances. Output: crm.chain_instances (status 'exited', exit_reason, exited_at,
--   exited_run_key).
-- Parameters: :chain_id, :other_chains (comma-separated chain ids), :as_of, :run_key, :now.
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = 'moved_to:' || (
        SELECT MIN(o.chain_id)
        FROM crm.chain_instances AS o
        WHERE
            o.customer_id = crm.chain_instances.customer_id
            AND ',' || :other_chains || ',' LIKE '%,' || o.chain_id || ',%'
            AND o.entered_at >= crm.chain_instances.entered_at
            AND o.entered_at <= :as_of
    ),
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE
    chain_id = :chain_id
    AND status = 'active'
    AND EXISTS (
        SELECT 1
        FROM crm.chain_instances AS o
        WHERE
            o.customer_id = crm.chain_instances.customer_id
            AND ',' || :other_chains || ',' LIKE '%,' || o.chain_id || ',%'
            AND o.entered_at >= crm.chain_instances.entered_at
            AND o.entered_at <= :as_of
    );
