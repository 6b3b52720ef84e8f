-- Cohort retention: customers by registration month, and how many of them bought (a purchase order) in each
-- month since, month 0 being the registration month; as in the seeds' table, shares of the cohort.
-- Inputs: crm.customers, crm.orders, crm.ref_order_statuses.
-- Outputs: crm.report_cohorts (replaced). Parameters: :until (orders and registrations before it).
DELETE FROM crm.report_cohorts;

INSERT INTO crm.report_cohorts (cohort_month, months_since, cohort_size, active_customers, retention)
WITH cohort AS (
    SELECT
        customer_id,
        CAST(DATE_TRUNC('month', registered_at) AS DATE) AS cohort_month
    FROM crm.customers
    WHERE registered_at < :until
),

sizes AS (
    SELECT
        cohort_month,
        COUNT(*) AS cohort_size
    FROM cohort
    GROUP BY cohort_month
),

active AS (
    SELECT DISTINCT
        c.cohort_month,
        c.customer_id,
        CAST(
            (EXTRACT(YEAR FROM o.ordered_at) - EXTRACT(YEAR FROM c.cohort_month)) * 12
            + EXTRACT(MONTH FROM o.ordered_at) - EXTRACT(MONTH FROM c.cohort_month) AS INTEGER
        ) AS months_since
    FROM cohort AS c
    INNER JOIN crm.orders AS o ON c.customer_id = o.customer_id
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status AND st.counts_as_purchase
    WHERE o.ordered_at < :until AND o.ordered_at >= c.cohort_month
)

SELECT
    a.cohort_month,
    a.months_since,
    s.cohort_size,
    COUNT(*) AS active_customers,
    CAST(COUNT(*) AS DOUBLE PRECISION) / s.cohort_size AS retention
FROM active AS a
INNER JOIN sizes AS s ON a.cohort_month = s.cohort_month
GROUP BY a.cohort_month, a.months_since, s.cohort_size;
