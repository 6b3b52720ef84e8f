-- Win-back: a customer has not bought for :lapse_days days, or for :frequent_lapse_days days when they used
-- to buy often (at least :frequent_orders purchases).
-- Inputs: crm.customer_state (last_order_at, orders_count).
-- Output: customer_id, trigger_key ('lapse-<date of the last purchase>'), triggered_at (last purchase plus
--   the lapse), last_order_at, lapse_days, orders_count.
-- Parameters: :since, :as_of (lapses reached in (since, as_of]), :lapse_days, :frequent_lapse_days,
--   :frequent_orders.
WITH lapses AS (
    SELECT
        cs.customer_id,
        cs.last_order_at,
        cs.orders_count,
        CASE WHEN cs.orders_count >= :frequent_orders THEN :frequent_lapse_days ELSE :lapse_days END
            AS lapse_days
    FROM crm.customer_state AS cs
    WHERE cs.last_order_at IS NOT NULL
)

SELECT
    customer_id,
    'lapse-' || CAST(CAST(last_order_at AS DATE) AS VARCHAR) AS trigger_key,
    last_order_at + lapse_days * INTERVAL '1 day' AS triggered_at,
    last_order_at,
    lapse_days,
    orders_count
FROM lapses
WHERE
    last_order_at + lapse_days * INTERVAL '1 day' > :since
    AND last_order_at + lapse_days * INTERVAL '1 day' <= :as_of;
