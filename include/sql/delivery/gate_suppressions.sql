-- Suppressions of one request's customers as they are now, matched by customer id or by the address itself.
-- inputs: crm.suppressions, crm.customers; outputs: customer_id, channel, reason
-- params: :customer_ids (the customers of the requests about to leave)
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
WHERE c.customer_id IN (SELECT UNNEST(CAST(:customer_ids AS BIGINT[])));
