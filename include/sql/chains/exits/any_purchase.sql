-- Exit check 'any_purchase', for the run's chains that turn it on: the customer bought anything after
-- entering. Reason 'purchased'.
-- Inputs: crm.chain_run_members (exit_any_purchase), crm.chain_instances, crm.orders,
--   crm.ref_order_statuses (counts_as_purchase).
-- Output: crm.chain_instances (status 'exited', exit_reason, exited_at, exited_run_key).
-- Parameters: :as_of, :run_key, :now, :active_since (the earliest entered_at of those chains' active
--   instances: a constant bound, so the check reads only the days since then).
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = 'purchased',
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE
    status = 'active'
    AND chain_id IN (
        SELECT m.chain_id FROM crm.chain_run_members AS m
        WHERE m.run_key = :run_key AND m.exit_any_purchase
    )
    AND EXISTS (
        SELECT 1
        FROM crm.orders AS o
        INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
        WHERE
            o.customer_id = crm.chain_instances.customer_id
            AND st.counts_as_purchase
            AND o.ordered_at >= crm.chain_instances.entered_at
            AND o.ordered_at >= :active_since
            AND o.ordered_at <= :as_of
    );
