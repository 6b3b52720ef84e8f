-- Migration crm/0025 (PostgreSQL only): indexes for the dispatch's look-ups, which otherwise read the whole
-- send ledger (it keeps every message ever planned) on every claim and every wave of requests: the
-- send-time check reads what the wave's customers received and their suppressions, a claim reads its rows
-- back by token, and the claim itself looks for a channel's due rows.
CREATE INDEX IF NOT EXISTS send_ledger_customer_idx ON crm.send_ledger (customer_id);
CREATE INDEX IF NOT EXISTS send_ledger_claim_idx ON crm.send_ledger (claim_token)
WHERE state = 'sending';
CREATE INDEX IF NOT EXISTS send_ledger_due_idx ON crm.send_ledger (channel, send_after)
WHERE state = 'planned';
CREATE INDEX IF NOT EXISTS suppressions_customer_idx ON crm.suppressions (customer_id);
