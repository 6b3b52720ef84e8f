-- Purchases each customer made in the horizon after the as-of date: the churn label and the realised revenue
-- that LTV is validated against.
-- Inputs: crm.orders, crm.ref_order_statuses (counts_as_purchase).
-- Outputs: customer_id, purchases (counted per :purchase_unit, as in rfm.sql), revenue; only customers with
--   at least one purchase in the window.
-- Parameters: :as_of (date; the window starts at the following midnight), :horizon_days (window length),
--   :purchase_unit ('customer_day' or 'order').
--   :sample_every (1: every customer; k: about one in k, those whose customer_id hashes (times 2654435761
--   modulo 2^31 - 1) to a multiple of k: the same customers in every query, snapshot and week).
SELECT
    o.customer_id,
    COUNT(
        DISTINCT CASE
            WHEN :purchase_unit = 'order' THEN o.order_id
            ELSE CAST(:as_of AS DATE) - CAST(o.ordered_at AS DATE)
        END
    ) AS purchases,
    SUM(o.total_amount) AS revenue
FROM crm.orders AS o
INNER JOIN crm.ref_order_statuses AS s ON o.status = s.status
WHERE
    s.counts_as_purchase
    AND o.ordered_at >= CAST(:as_of AS DATE) + 1
    AND o.ordered_at < CAST(:as_of AS DATE) + 1 + :horizon_days
    AND (
        :sample_every = 1
        OR MOD(MOD(MOD(o.customer_id, 2147483647) * 2654435761, 2147483647), :sample_every) = 0
    )
GROUP BY o.customer_id
