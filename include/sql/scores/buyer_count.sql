-- How many customers ever made a purchase: weekly training samples them above scores.yaml's
-- training_customers.
-- Inputs: crm.orders, crm.ref_order_statuses (counts_as_purchase).
-- Outputs: buyers. Parameters: none.
SELECT COUNT(DISTINCT o.customer_id) AS buyers
FROM crm.orders AS o
INNER JOIN crm.ref_order_statuses AS s ON o.status = s.status
WHERE s.counts_as_purchase
