-- The earliest moment a planned row of the channel becomes due within (:now, :until]: rows this run released
-- (Retry-After, backoff) or the send-time check held for a short while. NULL when none.
-- inputs: crm.send_ledger; outputs: one value
-- params: :channel, :now, :until
SELECT MIN(send_after) AS due
FROM crm.send_ledger
WHERE
    state = 'planned'
    AND channel = :channel
    AND send_after > :now
    AND send_after <= :until
    AND expires_at > send_after;
