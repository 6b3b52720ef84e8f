-- Cross-sell: a customer received an order (delivered online, or bought in a store) with a product that has
-- accessories in stock which the customer does not own yet.
-- Inputs: crm.orders (delivered_at; store orders count from ordered_at), crm.order_items,
--   crm.ref_order_statuses, crm.product_accessories, crm.products (in_stock).
-- Output: customer_id, trigger_key ('order-<id>'), triggered_at (delivery), order_id, product_id (the
--   dearest product with accessories), product_ids (the suggested accessories), accessories (how many),
--   trigger_value (the cheapest accessory's price).
-- Parameters: :since, :as_of (deliveries in (since, as_of]).
-- The products a customer already owns are read for the customers who received an order, not for everyone.
-- The window is a range on delivered_at, and on ordered_at for a store order without a delivery, so that
-- it reads the orders of the window (an index, or DuckDB's row-group bounds), not every order.
WITH received AS (
    SELECT
        o.customer_id,
        o.order_id,
        o.delivered_at AS received_at
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    WHERE
        st.counts_as_purchase
        AND o.delivered_at > :since
        AND o.delivered_at <= :as_of
    UNION ALL
    SELECT
        o.customer_id,
        o.order_id,
        o.ordered_at AS received_at
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    WHERE
        st.counts_as_purchase
        AND o.delivered_at IS NULL
        AND o.channel = 'offline'
        AND o.ordered_at > :since
        AND o.ordered_at <= :as_of
),

owned AS (
    SELECT
        o.customer_id,
        o.ordered_at,
        oi.product_id
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
    WHERE
        o.customer_id IN (SELECT r.customer_id FROM received AS r)
        AND st.counts_as_purchase
),

suggestions AS (
    SELECT
        r.customer_id,
        r.order_id,
        r.received_at,
        oi.product_id,
        main.price AS product_price,
        acc.product_id AS accessory_id,
        acc.price AS accessory_price
    FROM received AS r
    INNER JOIN crm.order_items AS oi ON r.order_id = oi.order_id
    INNER JOIN crm.products AS main ON oi.product_id = main.product_id
    INNER JOIN crm.product_accessories AS pa ON oi.product_id = pa.product_id
    INNER JOIN crm.products AS acc ON pa.accessory_id = acc.product_id
    WHERE
        acc.in_stock
        AND NOT EXISTS (
            SELECT 1
            FROM owned AS ow
            WHERE
                ow.customer_id = r.customer_id
                AND ow.product_id = acc.product_id
                AND ow.ordered_at <= r.received_at
        )
)

SELECT
    customer_id,
    'order-' || CAST(order_id AS VARCHAR) AS trigger_key,
    received_at AS triggered_at,
    order_id,
    MAX(product_id) AS product_id,
    STRING_AGG(DISTINCT CAST(accessory_id AS VARCHAR), ',' ORDER BY CAST(accessory_id AS VARCHAR))
        AS product_ids,
    COUNT(DISTINCT accessory_id) AS accessories,
    MIN(accessory_price) AS trigger_value
FROM suggestions
GROUP BY customer_id, order_id, received_at;
