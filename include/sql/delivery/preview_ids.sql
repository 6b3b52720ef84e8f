-- Plausible trigger ids for previewing any step for one customer: recently carted or viewed products, the
-- latest order and its products, and an in-stock product as a fallback; each with its category.
-- inputs: crm.events, crm.orders, crm.order_items, crm.products; outputs: rows (kind, id, category_id)
-- params: :customer_id
WITH touched AS (
    SELECT
        e.product_id,
        MAX(e.ts) AS last_ts
    FROM crm.events AS e
    WHERE
        e.customer_id = :customer_id
        AND e.event_type IN ('add_to_cart', 'view_product')
        AND e.product_id IS NOT NULL
    GROUP BY e.product_id
    ORDER BY last_ts DESC
    LIMIT 3
),

last_order AS (
    SELECT o.order_id
    FROM crm.orders AS o
    WHERE o.customer_id = :customer_id
    ORDER BY o.ordered_at DESC
    LIMIT 1
),

fallback AS (
    SELECT p.product_id
    FROM crm.products AS p
    WHERE p.in_stock AND p.product_line IS NOT NULL
    ORDER BY p.generation ASC, p.product_id ASC
    LIMIT 1
)

SELECT
    'product' AS kind,
    t.product_id AS id,
    p.category_id
FROM touched AS t
INNER JOIN crm.products AS p ON t.product_id = p.product_id
UNION ALL
SELECT
    'order' AS kind,
    lo.order_id AS id,
    CAST(NULL AS BIGINT) AS category_id
FROM last_order AS lo
UNION ALL
SELECT
    'ordered_product' AS kind,
    oi.product_id AS id,
    p.category_id
FROM last_order AS lo
INNER JOIN crm.order_items AS oi ON lo.order_id = oi.order_id
INNER JOIN crm.products AS p ON oi.product_id = p.product_id
UNION ALL
SELECT
    'fallback' AS kind,
    f.product_id AS id,
    p.category_id
FROM fallback AS f
INNER JOIN crm.products AS p ON f.product_id = p.product_id;
