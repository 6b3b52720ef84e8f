-- Suppressions of the customers of the requests about to leave, as they are now, matched by customer id or
-- by the address itself. The customers are looked up first, so the address match joins a handful of rows.
-- inputs: crm.suppressions, crm.customers; outputs: customer_id, channel, reason
-- params: :customer_ids (the customers of the requests about to leave)
WITH wave_customers AS (
    SELECT
        c.customer_id,
        LOWER(c.email) AS email,
        c.phone
    FROM crm.customers AS c
    WHERE c.customer_id IN (SELECT UNNEST(CAST(:customer_ids AS BIGINT[])))
)

SELECT DISTINCT
    c.customer_id,
    s.channel,
    s.reason
FROM crm.suppressions AS s
INNER JOIN wave_customers AS c
    ON
        s.customer_id = c.customer_id
        OR (s.channel = 'email' AND s.address = c.email)
        OR (s.channel = 'sms' AND s.address = c.phone);
