-- Put rows that failed for a reason since fixed (a template, a price, a context) back into the queue.
-- Only 'failed' rows whose error starts with :prefix, of :chain_id (NULL: every chain), failed at or after
-- :since, and still fresh: a message past its freshness limit is never sent late.
-- inputs: crm.send_ledger; outputs: crm.send_ledger (state 'planned', send_after = :now)
-- params: :prefix, :chain_id, :since, :now
UPDATE crm.send_ledger
SET
    state = 'planned',
    send_after = :now,
    claim_token = NULL,
    attempted_at = NULL,
    last_error = SUBSTRING('re-planned after: ' || last_error, 1, 1000),
    updated_at = :now
WHERE
    state = 'failed'
    AND last_error LIKE :prefix || '%'
    AND (CAST(:chain_id AS VARCHAR) IS NULL OR chain_id = :chain_id)
    AND updated_at >= :since
    AND expires_at > :now;
