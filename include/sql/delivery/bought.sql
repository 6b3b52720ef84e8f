-- Products the customers of one claim's recommending messages ever bought: never recommended to them.
-- inputs: crm.delivery_render_stage, crm.orders, crm.order_items; outputs: customer_id, product_id
-- params: :claim_token
SELECT DISTINCT
    o.customer_id,
    oi.product_id
FROM crm.orders AS o
INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
WHERE o.customer_id IN (
    SELECT s.customer_id
    FROM crm.delivery_render_stage AS s
    WHERE s.claim_token = :claim_token AND s.recommend <> 'none'
);
