-- Content mailings to everybody between two times: each reaches every customer with consent on its channel
-- (the stage matches them with the consents of policy/due_steps.sql, once per mailing instead of once per
-- customer and mailing).
-- Inputs: crm.content_mailings. Outputs: at, channel, kind. Parameters: :since, :until.
SELECT
    scheduled_at AS at,
    channel,
    kind
FROM crm.content_mailings
WHERE
    audience = 'all'
    AND scheduled_at >= :since
    AND scheduled_at < :until
