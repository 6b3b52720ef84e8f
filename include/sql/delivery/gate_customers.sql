-- The customers of the requests about to leave as they are now, for the send-time check, as rows of two
-- kinds (fact):
-- * 'customer': time zone and consents;
-- * 'suppression': a suppression of the customer, matched by customer id or by the address itself.
-- What they received comes from delivery/gate_received.sql. The wave's customers are looked up first, so
-- the address match joins a handful of rows, not every customer.
-- inputs: crm.customers, crm.suppressions
-- outputs: fact, customer_id, timezone, email_consent, push_consent, sms_consent, channel, reason
-- params: :customer_ids (the customers of the requests about to leave)
WITH wave_customers AS (
    SELECT
        c.customer_id,
        c.timezone,
        LOWER(c.email) AS email,
        c.phone,
        c.email_consent,
        c.push_consent,
        c.sms_consent
    FROM crm.customers AS c
    WHERE c.customer_id IN (SELECT UNNEST(CAST(:customer_ids AS BIGINT[])))
),

suppressed AS (
    SELECT DISTINCT
        c.customer_id,
        s.channel,
        s.reason
    FROM crm.suppressions AS s
    INNER JOIN wave_customers AS c
        ON
            s.customer_id = c.customer_id
            OR (s.channel = 'email' AND s.address = c.email)
            OR (s.channel = 'sms' AND s.address = c.phone)
)

SELECT
    'customer' AS fact,
    k.customer_id,
    k.timezone,
    k.email_consent,
    k.push_consent,
    k.sms_consent,
    CAST(NULL AS VARCHAR) AS channel,
    CAST(NULL AS VARCHAR) AS reason
FROM wave_customers AS k
UNION ALL
SELECT
    'suppression' AS fact,
    s.customer_id,
    NULL AS timezone,
    NULL AS email_consent,
    NULL AS push_consent,
    NULL AS sms_consent,
    s.channel,
    s.reason
FROM suppressed AS s;
