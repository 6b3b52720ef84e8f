-- Content mailings that reach the customers of a run between two times: mailings to everybody with consent
-- on the mailing's channel, and mailings with an explicit recipient list.
-- Inputs: crm.content_mailings, crm.content_mailing_recipients, crm.customers, crm.due_steps.
-- Outputs: customer_id, at, channel, kind. Parameters: :run_key, :since, :until.
WITH run_customers AS (
    SELECT DISTINCT customer_id FROM crm.due_steps
    WHERE run_key = :run_key
),

mailings AS (
    SELECT * FROM crm.content_mailings
    WHERE scheduled_at >= :since AND scheduled_at < :until
)

SELECT
    c.customer_id,
    m.scheduled_at AS at,
    m.channel,
    m.kind
FROM mailings AS m
INNER JOIN crm.customers AS c
    ON
        (m.channel = 'email' AND c.email_consent)
        OR (m.channel = 'push' AND c.push_consent)
        OR (m.channel = 'sms' AND c.sms_consent)
INNER JOIN run_customers AS r ON c.customer_id = r.customer_id
WHERE m.audience = 'all'
UNION ALL
SELECT
    rc.customer_id,
    m.scheduled_at AS at,
    m.channel,
    m.kind
FROM mailings AS m
INNER JOIN crm.content_mailing_recipients AS rc ON m.mailing_id = rc.mailing_id
INNER JOIN run_customers AS r ON rc.customer_id = r.customer_id
WHERE m.audience <> 'all'
