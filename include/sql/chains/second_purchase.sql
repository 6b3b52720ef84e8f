-- Second purchase, two branches:
--   'no_second': a customer's only purchase is older than the typical interval between two purchases (the
--     shop's median gap between consecutive purchases, learnt by the daily scores in force into
--     crm.purchase_intervals, when at least :min_gaps gaps back it; otherwise :default_interval_days);
--   'return': a customer's only order was returned (no purchase left); starts when the return is recorded.
-- Inputs: crm.customer_state (first_order_at, orders_count, returned_orders_count, avg_check), crm.orders,
--   crm.purchase_intervals.
-- Output: customer_id, trigger_key ('first-order'), triggered_at, branch ('no_second' | 'return'),
--   order_id (the returned order, return branch), interval_days, trigger_value (the first order's value).
-- Parameters: :since, :as_of (triggers in (since, as_of]), :min_gaps, :default_interval_days;
--   :scores_as_of (filled by the engine: the newest scored date before the run).
WITH typical AS (
    SELECT
        CAST(
            COALESCE(
                MAX(CASE WHEN pi.gaps >= :min_gaps THEN pi.median_gap_days END), :default_interval_days
            ) AS DOUBLE PRECISION
        ) AS interval_days
    FROM crm.purchase_intervals AS pi
    WHERE pi.as_of = :scores_as_of
)

SELECT
    cs.customer_id,
    'first-order' AS trigger_key,
    cs.first_order_at + t.interval_days * INTERVAL '1 day' AS triggered_at,
    'no_second' AS branch,
    CAST(NULL AS BIGINT) AS order_id,
    ROUND(CAST(t.interval_days AS NUMERIC), 1) AS interval_days,
    cs.avg_check AS trigger_value
FROM crm.customer_state AS cs
CROSS JOIN typical AS t
WHERE
    cs.orders_count = 1
    AND cs.first_order_at > :since - t.interval_days * INTERVAL '1 day'
    AND cs.first_order_at <= :as_of - t.interval_days * INTERVAL '1 day'
UNION ALL
SELECT
    cs.customer_id,
    'first-order' AS trigger_key,
    o.updated_at AS triggered_at,
    'return' AS branch,
    o.order_id,
    NULL AS interval_days,
    o.total_amount AS trigger_value
FROM crm.customer_state AS cs
INNER JOIN crm.orders AS o ON cs.customer_id = o.customer_id
WHERE
    cs.orders_count = 0
    AND cs.returned_orders_count >= 1
    AND o.status = 'returned'
    AND o.updated_at > :since
    AND o.updated_at <= :as_of;
