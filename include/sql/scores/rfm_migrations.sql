-- Segment migrations: how many customers moved from each RFM code on one scored date to each code on a later
-- one. Customers first scored on the later date have from_code NULL; those absent from it are not counted.
-- Inputs: crm.customer_scores (one row per customer and as_of).
-- Outputs: from_code, to_code, customers; ordered by from_code, to_code.
-- Parameters: :from_date, :to_date (as_of dates that were scored).
SELECT
    prev.rfm_code AS from_code,
    cur.rfm_code AS to_code,
    COUNT(*) AS customers
FROM crm.customer_scores AS cur
LEFT JOIN crm.customer_scores AS prev
    ON cur.customer_id = prev.customer_id AND prev.as_of = :from_date
WHERE cur.as_of = :to_date
GROUP BY prev.rfm_code, cur.rfm_code
ORDER BY from_code NULLS FIRST, to_code
