-- Reference for tests: chains/back_in_stock.sql with only its correlated time bounds (it reads the whole history).
-- Back in stock: a product a customer viewed, carted or wished for in the :interest_days before is back in
-- stock, and the customer has not bought it since showing interest.
-- Inputs: crm.stock_changes (in_stock true = restocked), crm.events (view_product, add_to_cart,
--   add_to_wishlist), crm.products, crm.orders, crm.order_items, crm.ref_order_statuses.
-- Output: customer_id, trigger_key ('product-<id>'), triggered_at (the restock), product_id, category_id,
--   product_ids (the product), trigger_value (its price), interest (the strongest signal: wishlist, cart
--   or view).
-- Parameters: :since, :as_of (restocks in (since, as_of]), :interest_days.
WITH restocks AS (
    SELECT
        s.product_id,
        s.changed_at
    FROM crm.stock_changes AS s
    WHERE s.in_stock AND s.changed_at > :since AND s.changed_at <= :as_of
),

interested AS (
    SELECT
        e.customer_id,
        r.product_id,
        r.changed_at,
        MIN(e.ts) AS first_interest_at,
        MAX(CASE e.event_type WHEN 'add_to_wishlist' THEN 3 WHEN 'add_to_cart' THEN 2 ELSE 1 END) AS signal
    FROM restocks AS r
    INNER JOIN crm.events AS e
        ON
            r.product_id = e.product_id
            AND e.event_type IN ('view_product', 'add_to_cart', 'add_to_wishlist')
            AND r.changed_at >= e.ts
            AND e.ts > r.changed_at - :interest_days * INTERVAL '1 day'
    GROUP BY e.customer_id, r.product_id, r.changed_at
)

SELECT
    i.customer_id,
    'product-' || CAST(i.product_id AS VARCHAR) AS trigger_key,
    i.changed_at AS triggered_at,
    i.product_id,
    p.category_id,
    CAST(i.product_id AS VARCHAR) AS product_ids,
    p.price AS trigger_value,
    CASE i.signal WHEN 3 THEN 'wishlist' WHEN 2 THEN 'cart' ELSE 'view' END AS interest
FROM interested AS i
INNER JOIN crm.products AS p ON i.product_id = p.product_id
WHERE NOT EXISTS (
    SELECT 1
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
    WHERE
        o.customer_id = i.customer_id
        AND st.counts_as_purchase
        AND oi.product_id = i.product_id
        AND o.ordered_at >= i.first_interest_at
        AND o.ordered_at <= i.changed_at
);
