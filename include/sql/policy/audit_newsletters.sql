-- Content mailings received by the customers who have trigger messages in the send ledger (they count in
-- the sale share the audit re-checks): mailings to everybody with consent on the channel, and mailings
-- with an explicit recipient list.
-- Inputs: crm.content_mailings, crm.content_mailing_recipients, crm.customers, crm.send_ledger.
-- Outputs: customer_id, at, kind. Parameters: none.
WITH ledger_customers AS (
    SELECT DISTINCT customer_id FROM crm.send_ledger
)

SELECT
    c.customer_id,
    m.scheduled_at AS at,
    m.kind
FROM crm.content_mailings AS m
INNER JOIN crm.customers AS c
    ON
        (m.channel = 'email' AND c.email_consent)
        OR (m.channel = 'push' AND c.push_consent)
        OR (m.channel = 'sms' AND c.sms_consent)
INNER JOIN ledger_customers AS lc ON c.customer_id = lc.customer_id
WHERE m.audience = 'all'
UNION ALL
SELECT
    r.customer_id,
    m.scheduled_at AS at,
    m.kind
FROM crm.content_mailings AS m
INNER JOIN crm.content_mailing_recipients AS r ON m.mailing_id = r.mailing_id
INNER JOIN ledger_customers AS lc ON r.customer_id = lc.customer_id
WHERE m.audience <> 'all'
