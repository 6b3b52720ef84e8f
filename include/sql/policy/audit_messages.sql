-- Every trigger message planned or sent, with what the audit needs to re-check the policy afterwards: the
-- customer's time zone and consent, whether the address is suppressed, and the message's kind.
-- Inputs: crm.send_ledger, crm.customers, crm.suppressions.
-- Outputs: send_key, customer_id, timezone, channel, kind, at, consented, consent_changed_at, suppressed.
-- Parameters: none.
SELECT
    l.send_key,
    l.customer_id,
    c.timezone,
    l.channel,
    l.message_kind AS kind,
    COALESCE(l.sent_at, l.send_after) AS at,
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
            AND s.reason IN ('unsubscribe', 'complaint', 'hard_bounce')
            AND (s.customer_id = l.customer_id OR s.address = c.email)
            AND s.created_at <= COALESCE(l.sent_at, l.send_after)
    ) AS suppressed
FROM crm.send_ledger AS l
INNER JOIN crm.customers AS c ON l.customer_id = c.customer_id
WHERE l.state IN ('planned', 'sending', 'sent', 'unknown')
