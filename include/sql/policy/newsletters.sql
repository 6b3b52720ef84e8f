-- Content mailings with an explicit recipient list that reach the customers of a run between two times
-- (mailings to everybody come from policy/newsletters_to_all.sql and reach the customers with consent on
-- their channel).
-- Inputs: crm.content_mailings, crm.content_mailing_recipients, crm.due_steps.
-- Outputs: customer_id, at, channel, kind. Parameters: :run_key, :since, :until.
WITH run_customers AS (
    SELECT DISTINCT customer_id FROM crm.due_steps
    WHERE run_key = :run_key
)

SELECT
    rc.customer_id,
    m.scheduled_at AS at,
    m.channel,
    m.kind
FROM crm.content_mailings AS m
INNER JOIN crm.content_mailing_recipients AS rc ON m.mailing_id = rc.mailing_id
INNER JOIN run_customers AS r ON rc.customer_id = r.customer_id
WHERE
    m.audience <> 'all'
    AND m.scheduled_at >= :since
    AND m.scheduled_at < :until
