-- The customers of one claim as they are now, for the send-time check: time zone, address, consents.
-- inputs: crm.send_ledger, crm.customers; outputs: one row per customer of the claim
-- params: :claim_token
SELECT
    c.customer_id,
    c.timezone,
    c.email,
    c.phone,
    c.email_consent,
    c.push_consent,
    c.sms_consent
FROM crm.customers AS c
WHERE c.customer_id IN (
    SELECT l.customer_id FROM crm.send_ledger AS l
    WHERE l.claim_token = :claim_token
);
