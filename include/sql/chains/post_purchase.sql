-- Post-purchase: every purchase, online or in a store (a newer order restarts the chain).
-- Inputs: crm.orders, crm.order_items, crm.ref_order_statuses (counts_as_purchase).
-- Output: customer_id, trigger_key ('order-<id>'), triggered_at (the order), order_id, order_channel,
--   trigger_value (the order total), product_ids (the order's products, for the templates).
-- Parameters: :since, :as_of (orders in (since, as_of]).
SELECT
    o.customer_id,
    'order-' || CAST(o.order_id AS VARCHAR) AS trigger_key,
    o.ordered_at AS triggered_at,
    o.order_id,
    o.channel AS order_channel,
    o.total_amount AS trigger_value,
    (
        SELECT STRING_AGG(CAST(oi.product_id AS VARCHAR), ',' ORDER BY oi.product_id)
        FROM crm.order_items AS oi
        WHERE oi.order_id = o.order_id
    ) AS product_ids
FROM crm.orders AS o
INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
WHERE st.counts_as_purchase AND o.ordered_at > :since AND o.ordered_at <= :as_of;
