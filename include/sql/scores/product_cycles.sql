-- Per consumable product: its repeat purchases by one customer over the last :learn_days up to the end of
-- the as-of date, and the median gap between two of them in days (gaps of a day or less are a forgotten item,
-- not a cycle). Products without a repeat purchase have no row. The replenishment chain times an order the
-- scores have not seen yet by this cycle when there are enough repeats (its min_repeats).
-- Inputs: crm.orders, crm.order_items, crm.ref_order_statuses, crm.products (is_consumable).
-- Output: product_id, repeats, median_gap_days.
-- Parameters: :as_of (date; orders before the following midnight count), :learn_days.
WITH purchases AS (
    SELECT
        o.customer_id,
        o.ordered_at,
        oi.product_id
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
    INNER JOIN crm.products AS p ON oi.product_id = p.product_id
    WHERE
        st.counts_as_purchase
        AND p.is_consumable
        AND o.ordered_at > CAST(:as_of AS DATE) + 1 - :learn_days * INTERVAL '1 day'
        AND o.ordered_at < CAST(:as_of AS DATE) + 1
),

gaps AS (
    SELECT
        product_id,
        EXTRACT(EPOCH FROM ordered_at - LAG(ordered_at) OVER (
            PARTITION BY customer_id, product_id ORDER BY ordered_at
        )) / 86400.0 AS gap_days
    FROM purchases
)

SELECT
    product_id,
    COUNT(*) AS repeats,
    CAST(PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY gap_days) AS DOUBLE PRECISION) AS median_gap_days
FROM gaps
WHERE gap_days > 1
GROUP BY product_id
ORDER BY product_id
