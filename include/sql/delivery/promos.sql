-- The promo code of each claimed message's chain instance, as stored.
-- inputs: crm.send_ledger, crm.promo_codes; outputs: one row per send_key that has a code
-- params: :claim_token
SELECT
    l.send_key,
    pc.code,
    pc.discount_percent,
    pc.valid_until
FROM crm.send_ledger AS l
INNER JOIN crm.promo_codes AS pc ON l.chain_id = pc.chain_id AND l.instance_id = pc.instance_id
WHERE l.claim_token = :claim_token;
