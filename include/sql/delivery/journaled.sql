-- DuckDB: one claim's hand-over journal (delivery/journal_wave.sql), to apply to the ledger with
-- delivery/apply_wave.sql: the verdicts first, then the outcomes. Each column is named as that statement's
-- array of it.
-- inputs: crm.send_handovers; params: :claim_token
SELECT
    is_outcome AS is_outcomes,
    claim_token AS claim_tokens,
    send_key AS send_keys,
    state AS states,
    reason AS reasons,
    send_after AS send_afters,
    recipient AS recipients,
    provider_message_id AS provider_message_ids,
    last_error AS last_errors,
    sent_at AS sent_ats,
    segments,
    cost AS costs,
    handed_at AS handed_ats
FROM crm.send_handovers
WHERE claim_token = :claim_token
ORDER BY is_outcome, handed_at;
