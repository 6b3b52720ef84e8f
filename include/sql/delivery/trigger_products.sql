-- The products that triggered each staged message (named ids and the lines of a named order), with the
-- latest price cut for price-drop copy and the category name.
-- inputs: crm.delivery_render_stage, crm.order_items, crm.products, crm.categories, crm.price_changes
-- outputs: one row per (send_key, product)
-- params: :claim_token
WITH triggers AS (
    SELECT
        s.send_key,
        s.position,
        s.product_id
    FROM crm.delivery_render_stage AS s
    WHERE s.claim_token = :claim_token AND s.product_id IS NOT NULL
    UNION ALL
    SELECT
        s.send_key,
        1000 + oi.line_no AS position,
        oi.product_id
    FROM crm.delivery_render_stage AS s
    INNER JOIN crm.order_items AS oi ON s.order_id = oi.order_id
    WHERE s.claim_token = :claim_token
),

price_cuts AS (
    SELECT
        pc.product_id,
        pc.old_price,
        ROW_NUMBER() OVER (PARTITION BY pc.product_id ORDER BY pc.changed_at DESC) AS recency
    FROM crm.price_changes AS pc
    WHERE pc.new_price < pc.old_price AND pc.product_id IN (SELECT t.product_id FROM triggers AS t)
)

SELECT
    t.send_key,
    t.position,
    p.product_id,
    p.name,
    p.brand,
    p.price,
    p.in_stock,
    p.image_url,
    p.url,
    cat.name AS category_name,
    cut.old_price
FROM triggers AS t
INNER JOIN crm.products AS p ON t.product_id = p.product_id
LEFT JOIN crm.categories AS cat ON p.category_id = cat.category_id
LEFT JOIN price_cuts AS cut
    ON p.product_id = cut.product_id AND cut.recency = 1 AND p.price < cut.old_price
ORDER BY t.send_key, t.position;
