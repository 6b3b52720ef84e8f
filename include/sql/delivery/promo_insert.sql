-- Keep the deterministic promo code of a chain instance; the first insert wins, re-renders change nothing.
-- inputs: none; outputs: crm.promo_codes
-- params: :code, :chain_id, :instance_id, :customer_id, :discount_percent, :valid_until, :now
INSERT INTO crm.promo_codes (
    code, chain_id, instance_id, customer_id, discount_percent, valid_until, created_at
)
VALUES (:code, :chain_id, :instance_id, :customer_id, :discount_percent, :valid_until, :now)
ON CONFLICT DO NOTHING;
