-- Atomically claim up to :batch_limit due rows of a channel for one dispatch round: planned -> sending.
-- A claimed row is not yet handed to the provider (attempted_at stays NULL until the send-time check lets
-- its request go), so a crash after the claim returns it to 'planned', never to 'unknown'.
-- The outer WHERE re-checks state = 'planned', so two concurrent claimers never get the same row (on
-- PostgreSQL the second UPDATE re-evaluates the row after the first commits; DuckDB has one writer).
-- inputs: crm.send_ledger; outputs: crm.send_ledger (state, claim_token, claimed_at, provider, attempts)
-- params: :claim_token, :provider, :channel, :now, :batch_limit
UPDATE crm.send_ledger
SET
    state = 'sending',
    claim_token = :claim_token,
    claimed_at = :now,
    attempted_at = NULL,
    provider = :provider,
    attempts = attempts + 1,
    updated_at = :now
WHERE
    state = 'planned'
    AND channel = :channel
    AND send_after <= :now
    AND expires_at > :now
    AND send_key IN (
        SELECT due.send_key
        FROM crm.send_ledger AS due
        WHERE
            due.state = 'planned'
            AND due.channel = :channel
            AND due.send_after <= :now
            AND due.expires_at > :now
        ORDER BY due.send_after, due.send_key
        LIMIT :batch_limit
    );
