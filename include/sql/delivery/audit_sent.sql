-- Every message that left (sent, or possibly sent: 'unknown'), at the moment its request left, with what the
-- send audit needs to re-check the contact policy at that moment: the customer's time zone, consent and
-- when it last changed, whether the address was suppressed by then, and the chain's scenario opt-out.
-- inputs: crm.send_ledger, crm.customers, crm.suppressions
-- outputs: send_key, customer_id, timezone, channel, kind, at, consented, consent_changed_at,
--   suppressed, scope_opted_out
-- params: none
SELECT
    l.send_key,
    l.customer_id,
    c.timezone,
    l.channel,
    l.message_kind AS kind,
    COALESCE(l.sent_at, l.attempted_at) AS at,
    CASE l.channel
        WHEN 'email' THEN c.email_consent
        WHEN 'push' THEN c.push_consent
        ELSE c.sms_consent
    END AS consented,
    CASE l.channel
        WHEN 'email' THEN c.email_consent_at
        WHEN 'push' THEN c.push_consent_at
        ELSE c.sms_consent_at
    END AS consent_changed_at,
    EXISTS(
        SELECT 1 FROM crm.suppressions AS s
        WHERE
            s.channel = l.channel
            AND (
                s.reason IN ('hard_bounce', 'complaint')
                OR (s.reason = 'unsubscribe' AND l.message_kind <> 'service')
            )
            AND (s.customer_id = l.customer_id OR s.address = LOWER(c.email))
            AND s.created_at <= COALESCE(l.sent_at, l.attempted_at)
    ) AS suppressed,
    EXISTS(
        SELECT 1 FROM crm.suppressions AS s
        WHERE
            s.channel = l.channel
            AND l.consent_scope IS NOT NULL
            AND s.reason = 'unsubscribe:' || l.consent_scope
            AND (s.customer_id = l.customer_id OR s.address = LOWER(c.email))
            AND s.created_at <= COALESCE(l.sent_at, l.attempted_at)
    ) AS scope_opted_out
FROM crm.send_ledger AS l
INNER JOIN crm.customers AS c ON l.customer_id = c.customer_id
WHERE l.state IN ('sent', 'unknown') AND COALESCE(l.sent_at, l.attempted_at) IS NOT NULL
ORDER BY l.customer_id, COALESCE(l.sent_at, l.attempted_at), l.send_key;
