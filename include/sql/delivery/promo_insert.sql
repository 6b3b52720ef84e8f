-- Keep the deterministic promo codes of one claim's chain instances, all in one statement (the columns
-- come as parallel arrays); the first insert wins, re-renders change nothing.
-- inputs: none; outputs: crm.promo_codes
-- params: :codes, :chain_ids, :instance_ids, :customer_ids, :discount_percents, :valid_untils, :now
INSERT INTO crm.promo_codes (
    code, chain_id, instance_id, customer_id, discount_percent, valid_until, created_at
)
SELECT
    u.code,
    u.chain_id,
    u.instance_id,
    u.customer_id,
    u.discount_percent,
    u.valid_until,
    CAST(:now AS TIMESTAMP) AS created_at
FROM (
    SELECT
        UNNEST(CAST(:codes AS VARCHAR[])) AS code,
        UNNEST(CAST(:chain_ids AS VARCHAR[])) AS chain_id,
        UNNEST(CAST(:instance_ids AS VARCHAR[])) AS instance_id,
        UNNEST(CAST(:customer_ids AS BIGINT[])) AS customer_id,
        UNNEST(CAST(:discount_percents AS INTEGER[])) AS discount_percent,
        UNNEST(CAST(:valid_untils AS TIMESTAMP[])) AS valid_until
) AS u
ON CONFLICT DO NOTHING;
