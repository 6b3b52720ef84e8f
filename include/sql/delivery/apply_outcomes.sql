-- Apply the outcomes of returned requests, only to rows still held by their claim (a stale writer is a
-- no-op). The outcomes come as parallel arrays (one element per row). A state of 'planned' releases a row
-- that was certainly not sent; it may be claimed again from retry_at on (the provider's Retry-After, or
-- backoff). A sent row's sent_at is the moment its request left, the moment the send-time check approved it.
-- inputs: crm.send_ledger; outputs: crm.send_ledger
-- params: :claim_tokens, :send_keys, :states, :recipients, :provider_message_ids, :last_errors, :sent_ats,
--   :retry_ats, :segments, :costs (arrays of one length; segments and cost only for SMS), :now
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
    updated_at = CAST(:now AS TIMESTAMP)
FROM (
    SELECT
        UNNEST(CAST(:claim_tokens AS VARCHAR[])) AS claim_token,
        UNNEST(CAST(:send_keys AS VARCHAR[])) AS send_key,
        UNNEST(CAST(:states AS VARCHAR[])) AS state,
        UNNEST(CAST(:recipients AS VARCHAR[])) AS recipient,
        UNNEST(CAST(:provider_message_ids AS VARCHAR[])) AS provider_message_id,
        UNNEST(CAST(:last_errors AS VARCHAR[])) AS last_error,
        UNNEST(CAST(:sent_ats AS TIMESTAMP[])) AS sent_at,
        UNNEST(CAST(:retry_ats AS TIMESTAMP[])) AS retry_at,
        UNNEST(CAST(:segments AS INTEGER[])) AS segments,
        UNNEST(CAST(:costs AS DOUBLE PRECISION[])) AS cost
) AS o
WHERE
    crm.send_ledger.send_key = o.send_key
    AND crm.send_ledger.claim_token = o.claim_token
    AND crm.send_ledger.state = 'sending';
