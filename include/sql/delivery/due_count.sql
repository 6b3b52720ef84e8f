-- How many rows of a channel are due now, at the start of a dispatch run: what tells PostgreSQL's planner
-- (Warehouse.refresh_statistics) that the hour's planning grew the ledger before the claims are planned.
-- inputs: crm.send_ledger; outputs: due
-- params: :channel, :now
SELECT COUNT(*) AS due
FROM crm.send_ledger
WHERE
    state = 'planned'
    AND channel = :channel
    AND send_after <= :now
    AND expires_at > :now;
