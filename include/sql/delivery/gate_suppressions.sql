-- Suppressions of one claim's customers as they are now, matched by customer id or by the address itself.
-- inputs: crm.suppressions, crm.customers, crm.send_ledger; outputs: customer_id, channel, reason
-- params: :claim_token
SELECT DISTINCT
    c.customer_id,
    s.channel,
    s.reason
FROM crm.suppressions AS s
INNER JOIN crm.customers AS c
    ON
        s.customer_id = c.customer_id
        OR (s.channel = 'email' AND s.address = LOWER(c.email))
        OR (s.channel = 'sms' AND s.address = c.phone)
WHERE c.customer_id IN (
    SELECT l.customer_id FROM crm.send_ledger AS l
    WHERE l.claim_token = :claim_token
);
