-- Remove one as-of date's expected consumable purchases before they are written again.
-- Inputs/outputs: crm.customer_line_next_orders. Parameters: :as_of.
DELETE FROM crm.customer_line_next_orders
WHERE as_of = :as_of
