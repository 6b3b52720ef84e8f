-- What one commit of the dispatch writes to the ledger, in one UPDATE, only to rows still held by their
-- claim (a stale writer is a no-op). Rows come as parallel arrays (one element per row) of two kinds:
-- * outcomes (:is_outcomes true) of returned requests. 'planned' releases a row that was certainly not
--   sent; it may be claimed again from :send_afters on (the provider's Retry-After, or backoff). A sent
--   row's sent_at is the moment its request left, the moment the send-time check approved it.
-- * send-time verdicts (:is_outcomes false) of the requests about to leave, only for rows not yet handed
--   over. 'sending' is approved: attempted_at = its :handed_ats (the moment its wave was checked) marks the
--   row handed to the provider;
--   'planned' is held (quiet hours, daily cap, minimum gap) until :send_afters; 'dropped' / 'expired' is
--   never sent (consent withdrawn, suppressed, quiet hours with drop, weekly cap, freshness limit), the
--   reason code kept in hold_reason.
-- inputs: crm.send_ledger; outputs: crm.send_ledger
-- params: :is_outcomes, :claim_tokens, :send_keys, :states, :reasons, :send_afters, :recipients,
--   :provider_message_ids, :last_errors, :sent_ats, :segments, :costs (arrays of one length; reasons only
--   for verdicts; recipients, provider message ids, errors, sent_ats, segments and cost only for outcomes,
--   segments and cost only for SMS), :handed_ats (when each row's wave was checked)
-- On DuckDB the waves of one-message requests append these arrays to crm.send_handovers instead
-- (delivery/journal_wave.sql), and this statement applies a claim's journal at once: all its verdicts,
-- then all its outcomes (a row has at most one of each per claim, its outcome written after its verdict,
-- so that is the order of its waves).
-- The rows are found by their keys. The state test is written so that PostgreSQL cannot answer it from the
-- partial index of claimed rows (send_ledger_claim_idx, state = 'sending'): its statistics often count no
-- claimed row, and a busy dispatch leaves that index full of dead entries until the next vacuum, so a scan of
-- it took 11 ms per wave against 0.6 ms by key (a 100 k-customer shop after 30,000 messages).
UPDATE crm.send_ledger
SET
    state = w.state,
    recipient = COALESCE(w.recipient, crm.send_ledger.recipient),
    provider_message_id = COALESCE(w.provider_message_id, crm.send_ledger.provider_message_id),
    last_error = CASE
        WHEN w.is_outcome THEN w.last_error
        WHEN w.state = 'sending' THEN crm.send_ledger.last_error
        ELSE 'send-time check: ' || w.reason
    END,
    segments = CASE WHEN w.is_outcome THEN w.segments ELSE crm.send_ledger.segments END,
    cost = CASE WHEN w.is_outcome THEN w.cost ELSE crm.send_ledger.cost END,
    sent_at = CASE
        WHEN NOT w.is_outcome THEN crm.send_ledger.sent_at
        WHEN w.state = 'sent' THEN COALESCE(crm.send_ledger.attempted_at, w.sent_at)
    END,
    send_after = COALESCE(w.send_after, crm.send_ledger.send_after),
    attempted_at = CASE
        WHEN w.is_outcome AND w.state = 'planned' THEN NULL
        WHEN w.is_outcome THEN crm.send_ledger.attempted_at
        WHEN w.state = 'sending' THEN w.handed_at
    END,
    hold_reason = CASE
        WHEN w.is_outcome THEN crm.send_ledger.hold_reason
        ELSE COALESCE(w.reason, crm.send_ledger.hold_reason)
    END,
    held_count = CASE
        WHEN w.is_outcome THEN crm.send_ledger.held_count
        WHEN w.state = 'planned' THEN COALESCE(crm.send_ledger.held_count, 0) + 1
        ELSE COALESCE(crm.send_ledger.held_count, 0)
    END,
    updated_at = w.handed_at
FROM (
    SELECT
        UNNEST(CAST(:is_outcomes AS BOOLEAN[])) AS is_outcome,
        UNNEST(CAST(:claim_tokens AS VARCHAR[])) AS claim_token,
        UNNEST(CAST(:send_keys AS VARCHAR[])) AS send_key,
        UNNEST(CAST(:states AS VARCHAR[])) AS state,
        UNNEST(CAST(:reasons AS VARCHAR[])) AS reason,
        UNNEST(CAST(:send_afters AS TIMESTAMP[])) AS send_after,
        UNNEST(CAST(:recipients AS VARCHAR[])) AS recipient,
        UNNEST(CAST(:provider_message_ids AS VARCHAR[])) AS provider_message_id,
        UNNEST(CAST(:last_errors AS VARCHAR[])) AS last_error,
        UNNEST(CAST(:sent_ats AS TIMESTAMP[])) AS sent_at,
        UNNEST(CAST(:segments AS INTEGER[])) AS segments,
        UNNEST(CAST(:costs AS DOUBLE PRECISION[])) AS cost,
        UNNEST(CAST(:handed_ats AS TIMESTAMP[])) AS handed_at
) AS w
WHERE
    crm.send_ledger.send_key = w.send_key
    AND crm.send_ledger.claim_token = w.claim_token
    AND COALESCE(crm.send_ledger.state, '') = 'sending'
    AND (w.is_outcome OR crm.send_ledger.attempted_at IS NULL);
