-- A one-row overview of crm.customer_state: how many customers, buyers, repeat buyers, revenue.
-- Inputs: crm.customer_state. Outputs: customers, buyers, repeat_buyers, revenue, avg_check.
-- Parameters: none.
SELECT
    COUNT(*) AS customers,
    SUM(CASE WHEN orders_count > 0 THEN 1 ELSE 0 END) AS buyers,
    SUM(CASE WHEN orders_count > 1 THEN 1 ELSE 0 END) AS repeat_buyers,
    ROUND(SUM(revenue_total)) AS revenue,
    ROUND(SUM(revenue_total) / NULLIF(SUM(orders_count), 0)) AS avg_check
FROM crm.customer_state
