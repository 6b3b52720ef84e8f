-- Customer KPIs (repeat-purchase rate, retention, LTV) of the report dates in a period, oldest first.
-- Inputs: crm.report_customer_kpis. Outputs: every column of it. Parameters: :since_day, :until_day.
SELECT
    report_date,
    customers,
    buyers,
    repeat_buyers,
    repeat_purchase_rate,
    retention_base,
    retained,
    retention_rate,
    revenue,
    avg_check,
    mean_ltv,
    scored_customers
FROM crm.report_customer_kpis
WHERE report_date >= :since_day AND report_date < :until_day
ORDER BY report_date
