-- Remove one as-of date's learnt product cycles and purchase interval before they are written again.
-- Inputs/outputs: crm.product_cycles, crm.purchase_intervals. Parameters: :as_of.
DELETE FROM crm.product_cycles
WHERE as_of = :as_of;

DELETE FROM crm.purchase_intervals
WHERE as_of = :as_of;
