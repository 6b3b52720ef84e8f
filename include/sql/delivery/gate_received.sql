-- What the customers of the requests about to leave actually received since :since, for caps and the
-- minimum gap of the send-time check: trigger messages sent, possibly sent ('unknown') or in flight in
-- another request (handed over, not yet answered), at the moment they left (source 'ledger'); content
-- mailings scheduled up to :now (source 'mailing'), those sent to everyone counted for the customers with
-- the channel's consent. The ledger and the recipients filter on the ids themselves (a fifth faster on
-- DuckDB than reading them back from the customers' lookup).
-- inputs: crm.customers, crm.send_ledger, crm.content_mailings, crm.content_mailing_recipients
-- outputs: customer_id, channel, at, kind, source, send_key (of a ledger row)
-- params: :customer_ids, :since, :now
WITH mailings AS (
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
    l.channel,
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
    k.customer_id,
    m.channel,
    m.scheduled_at AS at,
    m.kind,
    'mailing' AS source,
    NULL AS send_key
FROM mailings AS m
INNER JOIN crm.customers AS k
    ON
        (m.channel = 'email' AND k.email_consent)
        OR (m.channel = 'push' AND k.push_consent)
        OR (m.channel = 'sms' AND k.sms_consent)
WHERE
    m.audience = 'all'
    AND k.customer_id IN (SELECT UNNEST(CAST(:customer_ids AS BIGINT[])))
UNION ALL
SELECT
    rc.customer_id,
    m.channel,
    m.scheduled_at AS at,
    m.kind,
    'mailing' AS source,
    NULL AS send_key
FROM crm.content_mailing_recipients AS rc
INNER JOIN mailings AS m ON rc.mailing_id = m.mailing_id
WHERE
    m.audience <> 'all'
    AND rc.customer_id IN (SELECT UNNEST(CAST(:customer_ids AS BIGINT[])));
