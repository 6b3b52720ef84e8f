-- Migration shop/0002 (PostgreSQL only): indexes that let the hourly ingest read one window of `loaded_at`
-- without scanning whole tables. DuckDB needs none: its per-row-group min/max already skip old data.
CREATE INDEX IF NOT EXISTS customers_loaded_at_idx ON shop.customers (loaded_at);
CREATE INDEX IF NOT EXISTS push_tokens_loaded_at_idx ON shop.push_tokens (loaded_at);
CREATE INDEX IF NOT EXISTS products_loaded_at_idx ON shop.products (loaded_at);
CREATE INDEX IF NOT EXISTS events_loaded_at_idx ON shop.events (loaded_at);
CREATE INDEX IF NOT EXISTS orders_loaded_at_idx ON shop.orders (loaded_at);
CREATE INDEX IF NOT EXISTS order_items_loaded_at_idx ON shop.order_items (loaded_at);
CREATE INDEX IF NOT EXISTS price_changes_loaded_at_idx ON shop.price_changes (loaded_at);
CREATE INDEX IF NOT EXISTS stock_changes_loaded_at_idx ON shop.stock_changes (loaded_at);
