-- Recommendations per staged message, by the kind its step asks for:
--   alternatives     in-stock products of the trigger's category, closest in price (browse chains)
--   accessories      accessories of the trigger products, best sellers first (cross-sell, post-purchase)
--   top_category     best sellers since :bestseller_since of the named or trigger category, else the shop
--   next_generation  newer generations of the trigger product's line (line update)
-- Trigger products and products the customer already bought are never recommended.
-- inputs: crm.delivery_render_stage, crm.products, crm.product_accessories, crm.orders, crm.order_items
-- outputs: at most :max_items rows per send_key, best first
-- params: :claim_token, :bestseller_since, :max_items
WITH stage AS (
    SELECT
        s.send_key,
        s.customer_id,
        s.recommend,
        s.product_id,
        s.order_id,
        s.category_id
    FROM crm.delivery_render_stage AS s
    WHERE s.claim_token = :claim_token AND s.recommend <> 'none'
),

triggers AS (
    SELECT
        st.send_key,
        st.product_id
    FROM stage AS st
    WHERE st.product_id IS NOT NULL
    UNION
    SELECT
        st.send_key,
        oi.product_id
    FROM stage AS st
    INNER JOIN crm.order_items AS oi ON st.order_id = oi.order_id
),

focus AS (
    SELECT
        st.send_key,
        MIN(st.customer_id) AS customer_id,
        MIN(st.recommend) AS recommend,
        COALESCE(MIN(st.category_id), MIN(p.category_id)) AS category_id,
        AVG(p.price) AS ref_price
    FROM stage AS st
    LEFT JOIN triggers AS t ON st.send_key = t.send_key
    LEFT JOIN crm.products AS p ON t.product_id = p.product_id
    GROUP BY st.send_key
),

bestsellers AS (
    SELECT
        oi.product_id,
        SUM(oi.quantity) AS sold
    FROM crm.order_items AS oi
    INNER JOIN crm.orders AS o ON oi.order_id = o.order_id
    WHERE o.ordered_at >= :bestseller_since
    GROUP BY oi.product_id
),

candidates AS (
    SELECT
        f.send_key,
        p.product_id,
        ABS(p.price - f.ref_price) AS score
    FROM focus AS f
    INNER JOIN crm.products AS p ON f.category_id = p.category_id
    WHERE f.recommend = 'alternatives' AND p.in_stock
    UNION ALL
    SELECT
        f.send_key,
        a.accessory_id AS product_id,
        -COALESCE(b.sold, 0) AS score
    FROM focus AS f
    INNER JOIN triggers AS t ON f.send_key = t.send_key
    INNER JOIN crm.product_accessories AS a ON t.product_id = a.product_id
    LEFT JOIN bestsellers AS b ON a.accessory_id = b.product_id
    WHERE f.recommend = 'accessories'
    UNION ALL
    SELECT
        f.send_key,
        p.product_id,
        -COALESCE(b.sold, 0) AS score
    FROM focus AS f
    INNER JOIN crm.products AS p ON (f.category_id = p.category_id OR f.category_id IS NULL)
    LEFT JOIN bestsellers AS b ON p.product_id = b.product_id
    WHERE f.recommend = 'top_category' AND p.in_stock
    UNION ALL
    SELECT
        f.send_key,
        p.product_id,
        p.generation AS score
    FROM focus AS f
    INNER JOIN triggers AS t ON f.send_key = t.send_key
    INNER JOIN crm.products AS owned ON t.product_id = owned.product_id
    INNER JOIN crm.products AS p
        ON owned.product_line = p.product_line AND owned.generation < p.generation
    WHERE f.recommend = 'next_generation'
),

ranked AS (
    SELECT
        c.send_key,
        c.product_id,
        ROW_NUMBER() OVER (PARTITION BY c.send_key ORDER BY MIN(c.score), c.product_id) AS position
    FROM candidates AS c
    INNER JOIN focus AS f ON c.send_key = f.send_key
    WHERE
        NOT EXISTS (
            SELECT 1 FROM triggers AS t
            WHERE t.send_key = c.send_key AND t.product_id = c.product_id
        )
        AND NOT EXISTS (
            SELECT 1
            FROM crm.orders AS o
            INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
            WHERE o.customer_id = f.customer_id AND oi.product_id = c.product_id
        )
    GROUP BY c.send_key, c.product_id
)

SELECT
    r.send_key,
    r.position,
    p.product_id,
    p.name,
    p.brand,
    p.price,
    p.in_stock,
    p.image_url,
    p.url,
    cat.name AS category_name,
    CAST(NULL AS DOUBLE PRECISION) AS old_price
FROM ranked AS r
INNER JOIN crm.products AS p ON r.product_id = p.product_id
LEFT JOIN crm.categories AS cat ON p.category_id = cat.category_id
WHERE r.position <= :max_items
ORDER BY r.send_key, r.position;
