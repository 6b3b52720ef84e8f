-- Migration crm/0023 (DuckDB only): crm.orders stored in the order of ordered_at.
--
-- DuckDB skips the row groups of a table whose smallest and largest value of a column lie outside a query's
-- bounds, so the hourly chain queries' time bounds on ordered_at (entry windows, exits since the earliest
-- active entry) read a few row groups instead of the whole history only when the table is stored in that
-- order. The ingest appends new orders in time order (ingest/orders.sql); this rewrites the rows loaded
-- before it. PostgreSQL reads the same bounds through an index (0018).
CREATE TEMP TABLE orders_in_time_order AS
SELECT * FROM crm.orders
ORDER BY ordered_at, order_id;

DELETE FROM crm.orders;

INSERT INTO crm.orders
SELECT * FROM orders_in_time_order
ORDER BY ordered_at, order_id;

DROP TABLE orders_in_time_order;
