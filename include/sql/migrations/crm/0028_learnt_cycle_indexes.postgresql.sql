-- Migration crm/0028 (PostgreSQL only): the look-ups of the replenishment chain's hourly entry query: the
-- reminders whose expected purchase falls in the run's window (one as-of date of the scores), and the orders
-- and order lines loaded since the scores ran. DuckDB reads the same bounds from its row groups' smallest and
-- largest values.
CREATE INDEX IF NOT EXISTS customer_line_next_orders_due_idx
ON crm.customer_line_next_orders (as_of, next_purchase_at);
CREATE INDEX IF NOT EXISTS orders_loaded_at_idx ON crm.orders (loaded_at);
CREATE INDEX IF NOT EXISTS order_items_loaded_at_idx ON crm.order_items (loaded_at);
