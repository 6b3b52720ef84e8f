-- Ecosystem: a customer bought a device (a product of a product line) of a brand and owns devices of that
-- brand in only that one category; the chain suggests the brand's devices of other categories.
-- Inputs: crm.orders, crm.order_items, crm.ref_order_statuses, crm.products (brand, product_line,
--   category, in_stock).
-- Output: customer_id, trigger_key ('brand-<brand>'), triggered_at (the purchase), order_id, product_id
--   (the device bought), brand, category_id, product_ids (the brand's in-stock devices of other
--   categories: buying one ends the chain).
-- Parameters: :since, :as_of (purchases in (since, as_of]).
-- The devices a buyer already owned are read for the window's buyers only, not for every customer.
WITH device_purchases AS (
    SELECT
        o.customer_id,
        o.order_id,
        o.ordered_at,
        p.product_id,
        p.brand,
        p.category_id
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
    INNER JOIN crm.products AS p ON oi.product_id = p.product_id
    WHERE
        st.counts_as_purchase
        AND p.product_line IS NOT NULL
        AND p.brand IS NOT NULL
        AND o.ordered_at > :since
        AND o.ordered_at <= :as_of
),

owned_devices AS (
    SELECT
        o.customer_id,
        o.ordered_at,
        p.brand,
        p.category_id
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
    INNER JOIN crm.products AS p ON oi.product_id = p.product_id
    WHERE
        o.customer_id IN (SELECT b.customer_id FROM device_purchases AS b)
        AND st.counts_as_purchase
        AND p.product_line IS NOT NULL
        AND o.ordered_at <= :as_of
),

single_category_owners AS (
    SELECT
        dp.customer_id,
        dp.order_id,
        dp.ordered_at,
        dp.product_id,
        dp.brand,
        dp.category_id,
        (
            SELECT STRING_AGG(CAST(x.product_id AS VARCHAR), ',' ORDER BY x.product_id)
            FROM crm.products AS x
            WHERE
                x.brand = dp.brand
                AND x.product_line IS NOT NULL
                AND x.in_stock
                AND x.category_id <> dp.category_id
        ) AS product_ids
    FROM device_purchases AS dp
    WHERE NOT EXISTS (
        SELECT 1
        FROM owned_devices AS od
        WHERE
            od.customer_id = dp.customer_id
            AND od.ordered_at <= dp.ordered_at
            AND od.brand = dp.brand
            AND od.category_id <> dp.category_id
    )
)

SELECT
    customer_id,
    'brand-' || brand AS trigger_key,
    ordered_at AS triggered_at,
    order_id,
    product_id,
    brand,
    category_id,
    product_ids
FROM single_category_owners
WHERE product_ids IS NOT NULL;
