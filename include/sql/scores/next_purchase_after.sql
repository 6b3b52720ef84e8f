-- The first purchase of each customer in the window after the as-of date: what the expected next order is
-- checked against.
-- Inputs: crm.orders, crm.ref_order_statuses (counts_as_purchase).
-- Outputs: customer_id, days_to_next (calendar days from the as-of date to the first purchase, at least 1);
--   only customers with a purchase in the window.
-- Parameters: :as_of (date; the window starts at the following midnight), :window_days (window length).
SELECT
    o.customer_id,
    MIN(CAST(o.ordered_at AS DATE)) - CAST(:as_of AS DATE) AS days_to_next
FROM crm.orders AS o
INNER JOIN crm.ref_order_statuses AS s ON o.status = s.status
WHERE
    s.counts_as_purchase
    AND o.ordered_at >= CAST(:as_of AS DATE) + 1
    AND o.ordered_at < CAST(:as_of AS DATE) + 1 + :window_days
GROUP BY o.customer_id
ORDER BY o.customer_id
