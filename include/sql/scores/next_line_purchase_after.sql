-- The first purchase of each customer and consumable line in the window after the as-of date: what the
-- expected next purchase of a line is checked against. Lines as in consumable_lines.sql.
-- Inputs: crm.orders, crm.order_items, crm.ref_order_statuses, crm.products, crm.categories.
-- Outputs: customer_id, line, days_to_next (calendar days from the as-of date, at least 1); only customers
--   and lines with a purchase in the window.
-- Parameters: :as_of (date; the window starts at the following midnight), :window_days (window length).
SELECT
    o.customer_id,
    COALESCE(p.product_line, c.name, 'category ' || CAST(p.category_id AS VARCHAR)) AS line,
    MIN(CAST(o.ordered_at AS DATE)) - CAST(:as_of AS DATE) AS days_to_next
FROM crm.orders AS o
INNER JOIN crm.ref_order_statuses AS s ON o.status = s.status
INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
INNER JOIN crm.products AS p ON oi.product_id = p.product_id
LEFT JOIN crm.categories AS c ON p.category_id = c.category_id
WHERE
    s.counts_as_purchase
    AND p.is_consumable
    AND o.ordered_at >= CAST(:as_of AS DATE) + 1
    AND o.ordered_at < CAST(:as_of AS DATE) + 1 + :window_days
GROUP BY
    o.customer_id,
    COALESCE(p.product_line, c.name, 'category ' || CAST(p.category_id AS VARCHAR))
ORDER BY o.customer_id, line
