-- Planned rows of a channel whose freshness limit has passed are expired, never sent late.
-- inputs: crm.send_ledger; outputs: crm.send_ledger (state 'expired')
-- params: :channel, :now
UPDATE crm.send_ledger
SET state = 'expired', updated_at = :now
WHERE state = 'planned' AND channel = :channel AND expires_at <= :now;
