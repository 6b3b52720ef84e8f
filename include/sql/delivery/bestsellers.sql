-- Units sold per product since :bestseller_since (the last 90 days), read once per dispatch run: the order
-- of accessories and of a category's (or the shop's) top products.
-- inputs: crm.orders, crm.order_items; outputs: product_id, sold
-- params: :bestseller_since
SELECT
    oi.product_id,
    SUM(oi.quantity) AS sold
FROM crm.order_items AS oi
INNER JOIN crm.orders AS o ON oi.order_id = o.order_id
WHERE o.ordered_at >= :bestseller_since
GROUP BY oi.product_id;
