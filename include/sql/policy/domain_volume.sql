-- Emails already planned or sent today (UTC day) through the sending domain, for the warm-up limit.
-- Inputs: crm.send_ledger. Outputs: planned. Parameters: :run_key, :day_start, :day_end.
SELECT COUNT(*) AS planned
FROM crm.send_ledger
WHERE
    channel = 'email'
    AND state IN ('planned', 'sending', 'sent', 'unknown')
    AND run_key <> :run_key
    AND send_after >= :day_start AND send_after < :day_end
