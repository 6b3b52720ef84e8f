-- Reference for tests: chains/price_drop.sql with only its correlated time bounds (it reads the whole history).
-- Price drop: a product a customer viewed, carted or wished for in the :interest_days before got at least
-- :min_drop_share cheaper, is in stock, was not raised again by :as_of, and the customer has not bought it.
-- Inputs: crm.price_changes, crm.events (view_product, add_to_cart, add_to_wishlist), crm.products (current
--   price, in_stock), crm.orders, crm.order_items, crm.ref_order_statuses.
-- Output: customer_id, trigger_key ('product-<id>'), triggered_at (the price change), product_id,
--   category_id, product_ids (the product), trigger_value (the new price), old_price, new_price.
-- Parameters: :since, :as_of (price changes in (since, as_of]), :interest_days, :min_drop_share (0.05 = 5 %).
WITH drops AS (
    SELECT
        pc.product_id,
        pc.changed_at,
        pc.old_price,
        pc.new_price
    FROM crm.price_changes AS pc
    INNER JOIN crm.products AS p ON pc.product_id = p.product_id
    WHERE
        pc.changed_at > :since
        AND pc.changed_at <= :as_of
        AND pc.new_price <= pc.old_price * (1 - :min_drop_share)
        AND p.in_stock
        AND NOT EXISTS (
            SELECT 1
            FROM crm.price_changes AS later
            WHERE
                later.product_id = pc.product_id
                AND later.changed_at > pc.changed_at
                AND later.changed_at <= :as_of
                AND later.new_price > pc.new_price
        )
),

interested AS (
    SELECT
        e.customer_id,
        d.product_id,
        d.changed_at,
        d.old_price,
        d.new_price,
        MIN(e.ts) AS first_interest_at
    FROM drops AS d
    INNER JOIN crm.events AS e
        ON
            d.product_id = e.product_id
            AND e.event_type IN ('view_product', 'add_to_cart', 'add_to_wishlist')
            AND d.changed_at >= e.ts
            AND e.ts > d.changed_at - :interest_days * INTERVAL '1 day'
    GROUP BY e.customer_id, d.product_id, d.changed_at, d.old_price, d.new_price
)

SELECT
    i.customer_id,
    'product-' || CAST(i.product_id AS VARCHAR) AS trigger_key,
    i.changed_at AS triggered_at,
    i.product_id,
    p.category_id,
    CAST(i.product_id AS VARCHAR) AS product_ids,
    i.new_price AS trigger_value,
    i.old_price,
    i.new_price
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
