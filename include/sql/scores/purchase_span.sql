-- The times of the first and the newest purchase in the warehouse: training places its snapshots between
-- them (a snapshot after the data would label everyone as churned, one before it has no customers).
-- Inputs: crm.orders, crm.ref_order_statuses (counts_as_purchase).
-- Outputs: first_purchase, latest_purchase (both NULL when there is no purchase). Parameters: none.
SELECT
    MIN(o.ordered_at) AS first_purchase,
    MAX(o.ordered_at) AS latest_purchase
FROM crm.orders AS o
INNER JOIN crm.ref_order_statuses AS s ON o.status = s.status
WHERE s.counts_as_purchase
