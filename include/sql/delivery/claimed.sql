-- The rows one claim holds, with the customer fields every message needs.
-- inputs: crm.send_ledger, crm.customers; outputs: one row per claimed send_key
-- params: :claim_token
SELECT
    l.send_key,
    l.chain_id,
    l.step_id,
    l.instance_id,
    l.customer_id,
    l.channel,
    l.message_kind,
    l.template,
    l.variant,
    l.context,
    l.send_after,
    l.expires_at,
    c.email,
    c.phone,
    c.first_name,
    c.last_name,
    c.city
FROM crm.send_ledger AS l
LEFT JOIN crm.customers AS c ON l.customer_id = c.customer_id
WHERE l.claim_token = :claim_token AND l.state = 'sending'
ORDER BY l.send_key;
