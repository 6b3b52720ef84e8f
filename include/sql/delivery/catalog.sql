-- The product catalogue one dispatch run recommends from, read once per run: every product with its
-- category name, line and generation (recommendations are ranked in Python against it per claim).
-- inputs: crm.products, crm.categories; outputs: one row per product
-- params: none
SELECT
    p.product_id,
    p.name,
    p.brand,
    p.category_id,
    cat.name AS category_name,
    p.product_line,
    p.generation,
    p.price,
    p.in_stock,
    p.image_url,
    p.url
FROM crm.products AS p
LEFT JOIN crm.categories AS cat ON p.category_id = cat.category_id
ORDER BY p.product_id;
