-- DuckDB, one-message requests: what one commit of the dispatch hands over, appended to the claim's
-- journal instead of written to the ledger (one INSERT: a quarter of what delivery/apply_wave.sql's UPDATE
-- costs a wave). The journal is
-- applied to the ledger by apply_wave.sql once the claim's requests have returned (delivery/journaled.sql).
-- inputs: the wave's rows; outputs: crm.send_handovers
-- params: the parallel arrays of delivery/apply_wave.sql
INSERT INTO crm.send_handovers (
    is_outcome, claim_token, send_key, state, reason, send_after, recipient, provider_message_id,
    last_error, sent_at, segments, cost, handed_at
)
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
    UNNEST(CAST(:handed_ats AS TIMESTAMP[])) AS handed_at;
