-- Apply one request's staged outcomes, only to rows still held by this claim (a stale writer is a no-op).
-- A staged state of 'planned' releases a row that was certainly not sent; it may be claimed again from
-- retry_at on (the provider's Retry-After, or backoff). A sent row's sent_at is the moment its request
-- left, the moment the send-time check approved it.
-- inputs: crm.delivery_outcome_stage, crm.send_ledger; outputs: crm.send_ledger
-- params: :claim_token, :now
UPDATE crm.send_ledger
SET
    state = o.state,
    recipient = COALESCE(o.recipient, crm.send_ledger.recipient),
    provider_message_id = COALESCE(o.provider_message_id, crm.send_ledger.provider_message_id),
    last_error = o.last_error,
    segments = o.segments,
    cost = o.cost,
    sent_at = CASE WHEN o.state = 'sent' THEN COALESCE(crm.send_ledger.attempted_at, o.sent_at) END,
    send_after = CASE
        WHEN o.state = 'planned' THEN COALESCE(o.retry_at, crm.send_ledger.send_after)
        ELSE crm.send_ledger.send_after
    END,
    attempted_at = CASE WHEN o.state = 'planned' THEN NULL ELSE crm.send_ledger.attempted_at END,
    updated_at = :now
FROM crm.delivery_outcome_stage AS o
WHERE
    o.claim_token = :claim_token
    AND crm.send_ledger.send_key = o.send_key
    AND crm.send_ledger.claim_token = o.claim_token
    AND crm.send_ledger.state = 'sending';
