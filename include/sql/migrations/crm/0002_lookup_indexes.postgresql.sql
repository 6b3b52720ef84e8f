-- Migration crm/0002 (PostgreSQL only): indexes for the per-customer look-ups of the hourly runs.
CREATE INDEX IF NOT EXISTS events_customer_ts_idx ON crm.events (customer_id, ts);
CREATE INDEX IF NOT EXISTS events_loaded_at_idx ON crm.events (loaded_at);
CREATE INDEX IF NOT EXISTS orders_customer_idx ON crm.orders (customer_id, ordered_at);
CREATE INDEX IF NOT EXISTS order_items_product_idx ON crm.order_items (product_id);
