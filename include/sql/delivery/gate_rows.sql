-- The rows of one claim the send-time check needs beyond what rendering read: the step's quiet-hours rule,
-- its consent scope and its freshness limit.
-- inputs: crm.send_ledger; outputs: send_key, quiet_hours, consent_scope, expires_at
-- params: :claim_token
SELECT
    l.send_key,
    COALESCE(l.quiet_hours, 'hold') AS quiet_hours,
    l.consent_scope,
    l.expires_at
FROM crm.send_ledger AS l
WHERE l.claim_token = :claim_token AND l.state = 'sending';
