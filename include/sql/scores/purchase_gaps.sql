-- Every gap between two consecutive purchases of a customer, up to the end of the as-of date: what the
-- expected next order is learnt from. Purchases are counted per :purchase_unit, as in rfm.sql.
-- Inputs: crm.orders, crm.ref_order_statuses (counts_as_purchase).
-- Outputs: one row per customer and purchase after their first: customer_id, gap_no (1 = first to second
--   purchase), gap_days (calendar days from the previous purchase), prior_mean_days (mean of the customer's
--   gaps before this one, NULL for the first gap), opening_amount (the amount of the purchase that opened the
--   gap).
-- Parameters: :as_of (date; purchases before the following midnight count), :purchase_unit.
WITH baskets AS (
    SELECT
        o.customer_id,
        CAST(o.ordered_at AS DATE) AS purchase_day,
        MIN(o.ordered_at) AS ordered_at,
        MIN(o.order_id) AS first_order_id,
        SUM(o.total_amount) AS amount
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS s ON o.status = s.status
    WHERE s.counts_as_purchase AND o.ordered_at < CAST(:as_of AS DATE) + 1
    GROUP BY
        o.customer_id,
        CAST(o.ordered_at AS DATE),
        CASE WHEN :purchase_unit = 'order' THEN o.order_id END
),

numbered AS (
    SELECT
        customer_id,
        ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY ordered_at, first_order_id) AS purchase_no,
        purchase_day - LAG(purchase_day) OVER (
            PARTITION BY customer_id ORDER BY ordered_at, first_order_id
        ) AS gap_days,
        LAG(amount) OVER (PARTITION BY customer_id ORDER BY ordered_at, first_order_id) AS opening_amount
    FROM baskets
),

running AS (
    SELECT
        customer_id,
        purchase_no,
        gap_days,
        opening_amount,
        AVG(CAST(gap_days AS DOUBLE PRECISION)) OVER (
            PARTITION BY customer_id ORDER BY purchase_no ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS prior_mean_days
    FROM numbered
)

SELECT
    customer_id,
    purchase_no - 1 AS gap_no,
    gap_days,
    prior_mean_days,
    opening_amount
FROM running
WHERE purchase_no > 1
ORDER BY customer_id, gap_no
