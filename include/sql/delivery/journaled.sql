-- DuckDB: one claim's hand-over journal (delivery/journal_wave.sql), to apply to the ledger with
-- delivery/apply_wave.sql: the verdicts first, then the outcomes.
-- inputs: crm.send_handovers; params: :claim_token
SELECT
    is_outcome,
    claim_token,
    send_key,
    state,
    reason,
    send_after,
    recipient,
    provider_message_id,
    last_error,
    sent_at,
    segments,
    cost,
    handed_at
FROM crm.send_handovers
WHERE claim_token = :claim_token
ORDER BY is_outcome, handed_at;
