-- Exit check 'entered_chain', for the run's chains that list other chains: the customer entered one of the
-- listed chains after entering this one. Reason 'moved_to:<that chain>'.
-- Inputs: crm.chain_run_members (exit_entered_chains: comma-separated chain ids), crm.chain_instances.
-- Output: crm.chain_instances (status 'exited', exit_reason, exited_at, exited_run_key).
-- Parameters: :as_of, :run_key, :now.
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = 'moved_to:' || (
        SELECT MIN(o.chain_id)
        FROM crm.chain_instances AS o
        INNER JOIN crm.chain_run_members AS m
            ON
                m.run_key = :run_key
                AND m.chain_id = crm.chain_instances.chain_id
                AND ',' || m.exit_entered_chains || ',' LIKE '%,' || o.chain_id || ',%'
        WHERE
            o.customer_id = crm.chain_instances.customer_id
            AND o.entered_at >= crm.chain_instances.entered_at
            AND o.entered_at <= :as_of
    ),
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE
    status = 'active'
    AND chain_id IN (
        SELECT m.chain_id FROM crm.chain_run_members AS m
        WHERE m.run_key = :run_key AND m.exit_entered_chains IS NOT NULL
    )
    AND EXISTS (
        SELECT 1
        FROM crm.chain_instances AS o
        INNER JOIN crm.chain_run_members AS m
            ON
                m.run_key = :run_key
                AND m.chain_id = crm.chain_instances.chain_id
                AND ',' || m.exit_entered_chains || ',' LIKE '%,' || o.chain_id || ',%'
        WHERE
            o.customer_id = crm.chain_instances.customer_id
            AND o.entered_at >= crm.chain_instances.entered_at
            AND o.entered_at <= :as_of
    );
