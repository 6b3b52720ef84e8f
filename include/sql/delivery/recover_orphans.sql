-- Rows left in 'sending' by a dispatch that never finished (crash, killed worker).
-- * Never handed to the provider (attempted_at IS NULL): certainly not sent, back to 'planned'.
-- * Handed over (the request was in flight): whether the provider got them is unknown. They become
--   'unknown' (never resent blindly), except for the current provider when it deduplicates by the ledger
--   key (:resend_orphans), where they go back to 'planned' and are sent again under the same key.
-- Run as two statements so the dispatch can report each figure.
-- inputs: crm.send_ledger; outputs: crm.send_ledger (state 'planned' or 'unknown')
-- params: :channel, :provider, :resend_orphans, :stale_before, :now
UPDATE crm.send_ledger
SET
    state = 'planned',
    last_error = 'released: claim ' || COALESCE(claim_token, '?') || ' ended before the row was sent',
    claim_token = NULL,
    updated_at = :now
WHERE
    state = 'sending' AND channel = :channel AND claimed_at <= :stale_before
    AND attempted_at IS NULL;

UPDATE crm.send_ledger
SET
    state = CASE WHEN provider = :provider AND :resend_orphans THEN 'planned' ELSE 'unknown' END,
    last_error = 'orphaned by claim ' || COALESCE(claim_token, '?') || ': its request was in flight',
    attempted_at = CASE WHEN provider = :provider AND :resend_orphans THEN NULL ELSE attempted_at END,
    claim_token = NULL,
    updated_at = :now
WHERE
    state = 'sending' AND channel = :channel AND claimed_at <= :stale_before
    AND attempted_at IS NOT NULL;
