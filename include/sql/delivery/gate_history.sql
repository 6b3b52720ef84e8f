-- What the customers of the requests about to leave actually received since :since, for caps and the minimum
-- gap at send time: trigger messages sent, possibly sent ('unknown') or in flight in another request (handed
-- over, not yet answered), at the moment they left; and content mailings already gone out.
-- inputs: crm.send_ledger, crm.content_mailings, crm.content_mailing_recipients, crm.customers
-- outputs: customer_id, at, channel, kind, source ('ledger' or 'mailing')
-- The request's customers are looked up first, so the mailings sent to everyone join a handful of rows,
-- not every consenting customer.
-- params: :customer_ids (the customers of the requests about to leave), :since, :now
WITH claim_customers AS (
    SELECT
        c.customer_id,
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
)

SELECT
    l.customer_id,
    COALESCE(l.sent_at, l.attempted_at, l.claimed_at) AS at,
    l.channel,
    l.message_kind AS kind,
    'ledger' AS source
FROM crm.send_ledger AS l
WHERE
    l.customer_id IN (SELECT k.customer_id FROM claim_customers AS k)
    AND (
        l.state IN ('sent', 'unknown')
        OR (l.state = 'sending' AND l.attempted_at IS NOT NULL)
    )
    AND COALESCE(l.sent_at, l.attempted_at, l.claimed_at) >= :since
UNION ALL
SELECT
    k.customer_id,
    m.scheduled_at AS at,
    m.channel,
    m.kind,
    'mailing' AS source
FROM mailings AS m
INNER JOIN claim_customers AS k
    ON
        (m.channel = 'email' AND k.email_consent)
        OR (m.channel = 'push' AND k.push_consent)
        OR (m.channel = 'sms' AND k.sms_consent)
WHERE m.audience = 'all'
UNION ALL
SELECT
    rc.customer_id,
    m.scheduled_at AS at,
    m.channel,
    m.kind,
    'mailing' AS source
FROM crm.content_mailing_recipients AS rc
INNER JOIN mailings AS m ON rc.mailing_id = m.mailing_id
WHERE
    m.audience <> 'all'
    AND rc.customer_id IN (SELECT k.customer_id FROM claim_customers AS k);
