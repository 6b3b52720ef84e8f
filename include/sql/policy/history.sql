-- Trigger messages already planned or sent to the customers of a run (for caps, gaps and the sale share).
-- Messages planned by the same run are left out, so re-running a run decides exactly as the first time.
-- Inputs: crm.send_ledger, crm.due_steps. Outputs: customer_id, at, channel, kind.
-- Parameters: :run_key, :since (earliest time that matters).
SELECT
    l.customer_id,
    COALESCE(l.sent_at, l.send_after) AS at,
    l.channel,
    l.message_kind AS kind
FROM crm.send_ledger AS l
WHERE
    l.state IN ('planned', 'sending', 'sent', 'unknown')
    AND l.run_key <> :run_key
    AND COALESCE(l.sent_at, l.send_after) >= :since
    AND l.customer_id IN (
        SELECT d.customer_id FROM crm.due_steps AS d
        WHERE d.run_key = :run_key
    )
