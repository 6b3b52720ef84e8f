-- Migration crm/0018 (PostgreSQL only): indexes for the hourly chain queries' constant time bounds.
-- The entry queries read one event type over a few hours or days, the exit checks orders since the
-- earliest active entry, and the exit and due-step phases only a chain's active instances.
CREATE INDEX IF NOT EXISTS events_type_ts_idx ON crm.events (event_type, ts);
CREATE INDEX IF NOT EXISTS orders_ordered_at_idx ON crm.orders (ordered_at);
CREATE INDEX IF NOT EXISTS chain_instances_active_idx ON crm.chain_instances (chain_id, entered_at)
WHERE status = 'active';
