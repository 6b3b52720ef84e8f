-- Start of an ingest run: the scratch table of customers whose state the run must refresh.
-- Inputs: none. Outputs: temp table touched_customers. Parameters: none.
DROP TABLE IF EXISTS touched_customers;

CREATE TEMP TABLE touched_customers (customer_id BIGINT PRIMARY KEY);
