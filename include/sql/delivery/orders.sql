-- The order named by each staged message (post-purchase chains).
-- inputs: crm.delivery_render_stage, crm.orders; outputs: one row per (send_key, order)
-- params: :claim_token
SELECT DISTINCT
    s.send_key,
    o.order_id,
    o.channel,
    o.status,
    o.total_amount,
    o.ordered_at,
    o.delivered_at
FROM crm.delivery_render_stage AS s
INNER JOIN crm.orders AS o ON s.order_id = o.order_id
WHERE s.claim_token = :claim_token;
