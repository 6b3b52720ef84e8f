-- Feedback proves an 'unknown' message reached the provider: it was sent.
-- inputs: crm.send_ledger; outputs: crm.send_ledger (state 'sent')
-- params: :send_key, :now
UPDATE crm.send_ledger
SET state = 'sent', last_error = 'confirmed by provider feedback', updated_at = :now
WHERE send_key = :send_key AND state = 'unknown';
