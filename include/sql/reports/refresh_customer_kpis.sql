-- Customer KPIs of one report date: buyers, repeat-purchase rate (buyers with two or more purchase orders),
-- retention (of the customers who bought in the :retention_days before the latest :retention_days, the share
-- who bought again in the latest ones), revenue, average check and the mean LTV of the latest scores.
-- Inputs: crm.customers, crm.orders, crm.ref_order_statuses, crm.customer_scores.
-- Outputs: crm.report_customer_kpis (the date's row replaced).
-- Parameters: :report_date, :until (end of the report date), :retention_days.
DELETE FROM crm.report_customer_kpis
WHERE report_date = :report_date;

INSERT INTO crm.report_customer_kpis (
    report_date, customers, buyers, repeat_buyers, repeat_purchase_rate, retention_base, retained,
    retention_rate, revenue, avg_check, mean_ltv, scored_customers
)
WITH per_customer AS (
    SELECT
        o.customer_id,
        COUNT(*) AS orders,
        SUM(o.total_amount) AS revenue,
        MAX(
            CASE
                WHEN
                    o.ordered_at >= :until - 2 * :retention_days * INTERVAL '1 day'
                    AND o.ordered_at < :until - :retention_days * INTERVAL '1 day'
                    THEN 1
                ELSE 0
            END
        ) AS in_base,
        MAX(CASE WHEN o.ordered_at >= :until - :retention_days * INTERVAL '1 day' THEN 1 ELSE 0 END)
            AS in_recent
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status AND st.counts_as_purchase
    WHERE o.ordered_at < :until
    GROUP BY o.customer_id
),

latest_scores AS (
    SELECT
        AVG(s.ltv) AS mean_ltv,
        COUNT(*) AS scored_customers
    FROM crm.customer_scores AS s
    WHERE s.as_of = (
        SELECT MAX(l.as_of) FROM crm.customer_scores AS l
        WHERE l.as_of <= :report_date
    )
),

totals AS (
    SELECT
        COUNT(*) AS buyers,
        COALESCE(SUM(CASE WHEN orders >= 2 THEN 1 ELSE 0 END), 0) AS repeat_buyers,
        COALESCE(SUM(in_base), 0) AS retention_base,
        COALESCE(SUM(in_base * in_recent), 0) AS retained,
        COALESCE(SUM(revenue), 0) AS revenue,
        SUM(revenue) / NULLIF(SUM(orders), 0) AS avg_check
    FROM per_customer
)

SELECT
    :report_date,
    (
        SELECT COUNT(*) FROM crm.customers AS c
        WHERE c.registered_at < :until
    ) AS customers,
    t.buyers,
    t.repeat_buyers,
    CAST(t.repeat_buyers AS DOUBLE PRECISION) / NULLIF(t.buyers, 0) AS repeat_purchase_rate,
    t.retention_base,
    t.retained,
    CAST(t.retained AS DOUBLE PRECISION) / NULLIF(t.retention_base, 0) AS retention_rate,
    t.revenue,
    t.avg_check,
    ls.mean_ltv,
    ls.scored_customers
FROM totals AS t
CROSS JOIN latest_scores AS ls;
