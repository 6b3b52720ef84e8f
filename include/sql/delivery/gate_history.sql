-- What one request's customers actually received since :since, for caps and the minimum gap at send time:
-- trigger messages sent, possibly sent ('unknown') or in flight in another request (handed over, not yet
-- answered), at the moment they left; and content mailings already gone out.
-- inputs: crm.send_ledger, crm.content_mailings, crm.content_mailing_recipients, crm.customers
-- outputs: customer_id, at, channel, kind, source ('ledger' or 'mailing')
-- params: :customer_ids (the customers of one request), :since, :now
WITH claim_customers AS (
    SELECT DISTINCT UNNEST(CAST(:customer_ids AS BIGINT[])) AS customer_id
),

mailings AS (
    SELECT * FROM crm.content_mailings
    WHERE scheduled_at >= :since AND scheduled_at <= :now
)

SELECT
    l.customer_id,
    COALESCE(l.sent_at, l.attempted_at, l.claimed_at) AS at,
    l.channel,
    l.message_kind AS kind,
    'ledger' AS source
FROM crm.send_ledger AS l
INNER JOIN claim_customers AS k ON l.customer_id = k.customer_id
WHERE
    (
        l.state IN ('sent', 'unknown')
        OR (l.state = 'sending' AND l.attempted_at IS NOT NULL)
    )
    AND COALESCE(l.sent_at, l.attempted_at, l.claimed_at) >= :since
UNION ALL
SELECT
    c.customer_id,
    m.scheduled_at AS at,
    m.channel,
    m.kind,
    'mailing' AS source
FROM mailings AS m
INNER JOIN crm.customers AS c
    ON
        (m.channel = 'email' AND c.email_consent)
        OR (m.channel = 'push' AND c.push_consent)
        OR (m.channel = 'sms' AND c.sms_consent)
INNER JOIN claim_customers AS k ON c.customer_id = k.customer_id
WHERE m.audience = 'all'
UNION ALL
SELECT
    rc.customer_id,
    m.scheduled_at AS at,
    m.channel,
    m.kind,
    'mailing' AS source
FROM mailings AS m
INNER JOIN crm.content_mailing_recipients AS rc ON m.mailing_id = rc.mailing_id
INNER JOIN claim_customers AS k ON rc.customer_id = k.customer_id
WHERE m.audience <> 'all';
