-- Exit check 'purchase_of_trigger_product', for the run's chains that turn it on: the customer bought one
-- of the instance's products (the cart's items, the viewed or restocked product, the suggested accessories,
-- the new line…) after entering. Reason 'moved_to_post_purchase': the order itself enters the
-- post-purchase chain.
-- Inputs: crm.chain_run_members (exit_purchase_of_trigger_product), crm.chain_instances (product_ids:
--   comma-separated ids), crm.orders, crm.order_items, crm.ref_order_statuses (counts_as_purchase).
-- Output: crm.chain_instances (status 'exited', exit_reason, exited_at, exited_run_key).
-- Parameters: :as_of, :run_key, :now, :active_since (the earliest entered_at of those chains' active
--   instances: a constant bound, so the check reads only the days since then).
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = 'moved_to_post_purchase',
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE
    status = 'active'
    AND product_ids IS NOT NULL
    AND chain_id IN (
        SELECT m.chain_id FROM crm.chain_run_members AS m
        WHERE m.run_key = :run_key AND m.exit_purchase_of_trigger_product
    )
    AND EXISTS (
        SELECT 1
        FROM crm.orders AS o
        INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
        INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
        WHERE
            o.customer_id = crm.chain_instances.customer_id
            AND st.counts_as_purchase
            AND o.ordered_at >= crm.chain_instances.entered_at
            AND o.ordered_at >= :active_since
            AND o.ordered_at <= :as_of
            AND ','
            || crm.chain_instances.product_ids
            || ',' LIKE '%,'
            || CAST(oi.product_id AS VARCHAR)
            || ',%'
    );
