-- Migration crm/0026 (PostgreSQL only): indexes for look-ups by instance and by customer that the hourly
-- chains run and the contact policy make into tables without one: an instance's decisions (the progress and
-- due-step phases count what the policy decided for each active instance) and a customer's push tokens
-- (the policy's reachability check). Without them, a plan that misjudges a table's size repeats a full
-- scan per row.
CREATE INDEX IF NOT EXISTS decisions_instance_idx ON crm.decisions (instance_id, step_id);
CREATE INDEX IF NOT EXISTS push_tokens_customer_idx ON crm.push_tokens (customer_id);
