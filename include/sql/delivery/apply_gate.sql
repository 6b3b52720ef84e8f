-- Apply the send-time check of the requests about to leave (one wave), only to rows their claim still
-- holds and has not handed over yet. The verdicts come as parallel arrays (one element per row):
-- * 'sending': approved; attempted_at = :now marks the row as handed to the provider in this commit;
-- * 'planned': held (quiet hours, daily cap, minimum gap): back to the queue from hold_until;
-- * 'dropped' / 'expired': never sent (consent withdrawn, suppressed, quiet hours with drop, weekly cap,
--   freshness limit); the reason code stays in hold_reason.
-- inputs: crm.send_ledger; outputs: crm.send_ledger
-- params: :claim_tokens, :send_keys, :states, :reasons, :hold_untils (arrays of one length), :now
UPDATE crm.send_ledger
SET
    state = g.state,
    attempted_at = CASE WHEN g.state = 'sending' THEN CAST(:now AS TIMESTAMP) END,
    send_after = COALESCE(g.hold_until, crm.send_ledger.send_after),
    hold_reason = COALESCE(g.reason, crm.send_ledger.hold_reason),
    held_count = COALESCE(crm.send_ledger.held_count, 0) + CASE WHEN g.state = 'planned' THEN 1 ELSE 0 END,
    last_error = CASE
        WHEN g.state = 'sending' THEN crm.send_ledger.last_error
        ELSE 'send-time check: ' || g.reason
    END,
    updated_at = CAST(:now AS TIMESTAMP)
FROM (
    SELECT
        UNNEST(CAST(:claim_tokens AS VARCHAR[])) AS claim_token,
        UNNEST(CAST(:send_keys AS VARCHAR[])) AS send_key,
        UNNEST(CAST(:states AS VARCHAR[])) AS state,
        UNNEST(CAST(:reasons AS VARCHAR[])) AS reason,
        UNNEST(CAST(:hold_untils AS TIMESTAMP[])) AS hold_until
) AS g
WHERE
    crm.send_ledger.send_key = g.send_key
    AND crm.send_ledger.claim_token = g.claim_token
    AND crm.send_ledger.state = 'sending'
    AND crm.send_ledger.attempted_at IS NULL;
