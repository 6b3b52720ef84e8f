-- Active push tokens of the customers of one claim.
-- inputs: crm.send_ledger, crm.push_tokens; outputs: one row per (send_key, token)
-- params: :claim_token
SELECT
    l.send_key,
    t.token,
    t.platform
FROM crm.send_ledger AS l
INNER JOIN crm.push_tokens AS t ON l.customer_id = t.customer_id
WHERE l.claim_token = :claim_token AND t.is_active
ORDER BY l.send_key ASC, t.created_at DESC;
