-- Everything the send-time check needs about the customers of the requests about to leave, in one read,
-- as rows of three kinds (fact):
-- * 'customer': the customer as they are now: time zone and consents;
-- * 'suppression': a suppression of the customer, matched by customer id or by the address itself;
-- * 'received': what the customer actually received since :since, for caps and the minimum gap: trigger
--   messages sent, possibly sent ('unknown') or in flight in another request (handed over, not yet
--   answered), at the moment they left (source 'ledger'); content mailings already gone out ('mailing').
-- The wave's customers are looked up first, so the address match and the mailings sent to everyone join a
-- handful of rows, not every customer; the ledger and the recipients filter on the ids themselves (a
-- fifth faster on DuckDB than reading them back from the first lookup).
-- inputs: crm.customers, crm.suppressions, crm.send_ledger, crm.content_mailings,
--   crm.content_mailing_recipients
-- outputs: fact, customer_id, timezone, email_consent, push_consent, sms_consent, channel, reason, at, kind,
--   source, send_key (of a ledger row)
-- params: :customer_ids (the customers of the requests about to leave), :since, :now
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

mailings AS (
    SELECT
        m.mailing_id,
        m.channel,
        m.kind,
        m.audience,
        m.scheduled_at
    FROM crm.content_mailings AS m
    WHERE m.scheduled_at >= :since AND m.scheduled_at <= :now
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
    CAST(NULL AS VARCHAR) AS reason,
    CAST(NULL AS TIMESTAMP) AS at,
    CAST(NULL AS VARCHAR) AS kind,
    CAST(NULL AS VARCHAR) AS source,
    CAST(NULL AS VARCHAR) AS send_key
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
    s.reason,
    NULL AS at,
    NULL AS kind,
    NULL AS source,
    NULL AS send_key
FROM suppressed AS s
UNION ALL
SELECT
    'received' AS fact,
    l.customer_id,
    NULL AS timezone,
    NULL AS email_consent,
    NULL AS push_consent,
    NULL AS sms_consent,
    l.channel,
    NULL AS reason,
    COALESCE(l.sent_at, l.attempted_at, l.claimed_at) AS at,
    l.message_kind AS kind,
    'ledger' AS source,
    l.send_key
FROM crm.send_ledger AS l
WHERE
    l.customer_id IN (SELECT UNNEST(CAST(:customer_ids AS BIGINT[])))
    AND (
        l.state IN ('sent', 'unknown')
        OR (l.state = 'sending' AND l.attempted_at IS NOT NULL)
    )
    AND COALESCE(l.sent_at, l.attempted_at, l.claimed_at) >= :since
UNION ALL
SELECT
    'received' AS fact,
    k.customer_id,
    NULL AS timezone,
    NULL AS email_consent,
    NULL AS push_consent,
    NULL AS sms_consent,
    m.channel,
    NULL AS reason,
    m.scheduled_at AS at,
    m.kind,
    'mailing' AS source,
    NULL AS send_key
FROM mailings AS m
INNER JOIN wave_customers AS k
    ON
        (m.channel = 'email' AND k.email_consent)
        OR (m.channel = 'push' AND k.push_consent)
        OR (m.channel = 'sms' AND k.sms_consent)
WHERE m.audience = 'all'
UNION ALL
SELECT
    'received' AS fact,
    rc.customer_id,
    NULL AS timezone,
    NULL AS email_consent,
    NULL AS push_consent,
    NULL AS sms_consent,
    m.channel,
    NULL AS reason,
    m.scheduled_at AS at,
    m.kind,
    'mailing' AS source,
    NULL AS send_key
FROM crm.content_mailing_recipients AS rc
INNER JOIN mailings AS m ON rc.mailing_id = m.mailing_id
WHERE
    m.audience <> 'all'
    AND rc.customer_id IN (SELECT UNNEST(CAST(:customer_ids AS BIGINT[])));
