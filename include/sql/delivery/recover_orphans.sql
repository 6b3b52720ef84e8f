-- Rows left in 'sending' by a dispatch that never finished (crash, killed worker). Whether the provider got
-- them is unknown: they become 'unknown' (never resent blindly), except for the current provider when it
-- deduplicates by the ledger key (:resend_orphans), where they go back to 'planned' and are sent again under
-- the same idempotency key.
-- inputs: crm.send_ledger; outputs: crm.send_ledger (state 'unknown' or 'planned')
-- params: :channel, :provider, :resend_orphans, :stale_before, :now
UPDATE crm.send_ledger
SET
    state = CASE WHEN provider = :provider AND :resend_orphans THEN 'planned' ELSE 'unknown' END,
    last_error = 'orphaned by claim ' || COALESCE(claim_token, '?') || ': the dispatch did not finish',
    claim_token = NULL,
    updated_at = :now
WHERE state = 'sending' AND channel = :channel AND claimed_at <= :stale_before;
