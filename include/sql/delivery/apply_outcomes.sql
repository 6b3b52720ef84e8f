-- Apply one batch's staged outcomes, only to rows still held by this claim (a stale writer is a no-op).
-- A staged state of 'planned' releases a row that was certainly not sent.
-- inputs: crm.delivery_outcome_stage, crm.send_ledger; outputs: crm.send_ledger
-- params: :claim_token, :now
UPDATE crm.send_ledger
SET
    state = o.state,
    recipient = COALESCE(o.recipient, crm.send_ledger.recipient),
    provider_message_id = COALESCE(o.provider_message_id, crm.send_ledger.provider_message_id),
    last_error = o.last_error,
    sent_at = o.sent_at,
    updated_at = :now
FROM crm.delivery_outcome_stage AS o
WHERE
    o.claim_token = :claim_token
    AND crm.send_ledger.send_key = o.send_key
    AND crm.send_ledger.claim_token = o.claim_token
    AND crm.send_ledger.state = 'sending';
