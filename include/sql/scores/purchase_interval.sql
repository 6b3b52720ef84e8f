-- The shop's typical interval between two purchases: every gap between consecutive purchases of one customer
-- over the last :learn_days up to the end of the as-of date (gaps of a day or less are one shopping trip),
-- counted, and their median in days (NULL without a gap). The second-purchase chain waits this long after a
-- first purchase when there are enough gaps (its min_gaps).
-- Inputs: crm.orders, crm.ref_order_statuses.
-- Output: one row: gaps, median_gap_days.
-- Parameters: :as_of (date; orders before the following midnight count), :learn_days.
WITH purchases AS (
    SELECT
        o.customer_id,
        o.ordered_at
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    WHERE
        st.counts_as_purchase
        AND o.ordered_at > CAST(:as_of AS DATE) + 1 - :learn_days * INTERVAL '1 day'
        AND o.ordered_at < CAST(:as_of AS DATE) + 1
),

gaps AS (
    SELECT
        EXTRACT(EPOCH FROM ordered_at - LAG(ordered_at) OVER (
            PARTITION BY customer_id ORDER BY ordered_at
        )) / 86400.0 AS gap_days
    FROM purchases
)

SELECT
    COUNT(*) AS gaps,
    CAST(PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY gap_days) AS DOUBLE PRECISION) AS median_gap_days
FROM gaps
WHERE gap_days > 1
