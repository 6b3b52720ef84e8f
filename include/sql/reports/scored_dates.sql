-- The as-of dates of crm.customer_scores up to a date, newest first.
-- Inputs: crm.customer_scores. Outputs: as_of. Parameters: :until_date (inclusive).
SELECT DISTINCT as_of
FROM crm.customer_scores
WHERE as_of <= :until_date
ORDER BY as_of DESC
