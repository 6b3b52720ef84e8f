-- The cohort retention matrix as materialised (registration month × months since).
-- Inputs: crm.report_cohorts. Outputs: cohort_month, months_since, cohort_size, active_customers, retention.
-- Parameters: :since_month (first registration month shown).
SELECT
    cohort_month,
    months_since,
    cohort_size,
    active_customers,
    retention
FROM crm.report_cohorts
WHERE cohort_month >= :since_month
ORDER BY cohort_month, months_since
