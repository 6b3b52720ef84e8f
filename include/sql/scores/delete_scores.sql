-- Remove one as-of date's scores before they are written again (re-scoring a date replaces it).
-- Inputs/outputs: crm.customer_scores. Parameters: :as_of.
DELETE FROM crm.customer_scores
WHERE as_of = :as_of
