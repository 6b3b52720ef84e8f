-- The newest as-of date in crm.customer_scores (NULL before the first scoring run).
-- Inputs: crm.customer_scores. Outputs: as_of. Parameters: none.
SELECT MAX(as_of) AS as_of
FROM crm.customer_scores
