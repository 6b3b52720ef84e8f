-- Migration crm/0029 (PostgreSQL only): the cross-sell chain's hourly entry query reads the orders delivered
-- in the run's window. DuckDB reads the same bound from its row groups' smallest and largest values.
CREATE INDEX IF NOT EXISTS orders_delivered_at_idx ON crm.orders (delivered_at);
