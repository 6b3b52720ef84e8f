-- Second purchase, two branches:
--   'no_second': a customer's only purchase is older than the typical interval between two purchases (the
--     median gap between consecutive purchases over the last :learn_days, when at least :min_gaps gaps
--     exist; otherwise :default_interval_days);
--   'return': a customer's only order was returned (no purchase left); starts when the return is recorded.
-- Inputs: crm.customer_state (first_order_at, orders_count, returned_orders_count, avg_check), crm.orders,
--   crm.ref_order_statuses.
-- Output: customer_id, trigger_key ('first-order'), triggered_at, branch ('no_second' | 'return'),
--   order_id (the returned order, return branch), interval_days, trigger_value (the first order's value).
-- Parameters: :since, :as_of (triggers in (since, as_of]), :learn_days, :min_gaps,
--   :default_interval_days.
WITH purchases AS (
    SELECT
        o.customer_id,
        o.ordered_at
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    WHERE
        st.counts_as_purchase
        AND o.ordered_at > :as_of - :learn_days * INTERVAL '1 day'
        AND o.ordered_at <= :as_of
),

gaps AS (
    SELECT
        EXTRACT(EPOCH FROM ordered_at - LAG(ordered_at) OVER (
            PARTITION BY customer_id ORDER BY ordered_at
        )) / 86400.0 AS gap_days
    FROM purchases
),

typical AS (
    SELECT
        CAST(
            CASE
                WHEN COUNT(gap_days) >= :min_gaps
                    THEN PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY gap_days)
                ELSE :default_interval_days
            END AS DOUBLE PRECISION
        ) AS interval_days
    FROM gaps
    WHERE gap_days > 1
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
    AND cs.first_order_at + t.interval_days * INTERVAL '1 day' > :since
    AND cs.first_order_at + t.interval_days * INTERVAL '1 day' <= :as_of
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
