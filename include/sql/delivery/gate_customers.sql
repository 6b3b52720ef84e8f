-- The customers of one request as they are now, for the send-time check: time zone, address, consents.
-- inputs: crm.customers; outputs: one row per customer of the request
-- params: :customer_ids (the customers of the requests about to leave)
SELECT
    c.customer_id,
    c.timezone,
    c.email,
    c.phone,
    c.email_consent,
    c.push_consent,
    c.sms_consent
FROM crm.customers AS c
WHERE c.customer_id IN (SELECT UNNEST(CAST(:customer_ids AS BIGINT[])));
