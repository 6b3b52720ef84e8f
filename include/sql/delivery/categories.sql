-- The category named by each staged message (category chains, seasonal picks).
-- inputs: crm.delivery_render_stage, crm.categories; outputs: one row per (send_key, category)
-- params: :claim_token
SELECT DISTINCT
    s.send_key,
    c.category_id,
    c.name,
    c.slug
FROM crm.delivery_render_stage AS s
INNER JOIN crm.categories AS c ON s.category_id = c.category_id
WHERE s.claim_token = :claim_token;
