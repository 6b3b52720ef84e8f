-- Replenishment ("Пополни запасы"): a consumable a customer bought is nearly used up. The cycle of each
-- product is learnt from repeat purchases (median days between two purchases of it by the same customer,
-- over the last :learn_days) when at least :min_repeats such repeats exist, otherwise it is the product's
-- replenishment_days. The chain starts :lead_days before the cycle ends, unless the customer bought the
-- product again.
-- Inputs: crm.orders, crm.order_items, crm.ref_order_statuses, crm.products (is_consumable,
--   replenishment_days).
-- Output: customer_id, trigger_key ('order-<id>-product-<id>'), triggered_at (cycle end minus the lead),
--   order_id, product_id, category_id, product_ids (the product), trigger_value (its price), cycle_days,
--   cycle_learnt (true when learnt from repeat purchases).
-- Parameters: :since, :as_of (triggers in (since, as_of]), :lead_days, :min_repeats, :learn_days.
WITH purchases AS (
    SELECT
        o.customer_id,
        o.order_id,
        o.ordered_at,
        oi.product_id
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
    INNER JOIN crm.products AS p ON oi.product_id = p.product_id
    WHERE
        st.counts_as_purchase
        AND p.is_consumable
        AND o.ordered_at > :as_of - :learn_days * INTERVAL '1 day'
        AND o.ordered_at <= :as_of
),

gaps AS (
    SELECT
        product_id,
        EXTRACT(EPOCH FROM ordered_at - LAG(ordered_at) OVER (
            PARTITION BY customer_id, product_id ORDER BY ordered_at
        )) / 86400.0 AS gap_days
    FROM purchases
),

learnt AS (
    SELECT
        product_id,
        COUNT(*) AS repeats,
        PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY gap_days) AS median_gap_days
    FROM gaps
    WHERE gap_days > 1
    GROUP BY product_id
),

cycles AS (
    SELECT
        p.product_id,
        p.category_id,
        p.price,
        COALESCE(l.repeats >= :min_repeats, FALSE) AS cycle_learnt,
        CAST(
            CASE WHEN l.repeats >= :min_repeats THEN l.median_gap_days ELSE p.replenishment_days END
            AS DOUBLE PRECISION
        ) AS cycle_days
    FROM crm.products AS p
    LEFT JOIN learnt AS l ON p.product_id = l.product_id
    WHERE p.is_consumable
),

due AS (
    SELECT
        pu.customer_id,
        pu.order_id,
        pu.ordered_at,
        pu.product_id,
        c.category_id,
        c.price,
        c.cycle_days,
        c.cycle_learnt,
        pu.ordered_at + (c.cycle_days - :lead_days) * INTERVAL '1 day' AS triggered_at
    FROM purchases AS pu
    INNER JOIN cycles AS c ON pu.product_id = c.product_id
    WHERE c.cycle_days IS NOT NULL
)

SELECT
    d.customer_id,
    'order-' || CAST(d.order_id AS VARCHAR) || '-product-' || CAST(d.product_id AS VARCHAR) AS trigger_key,
    d.triggered_at,
    d.order_id,
    d.product_id,
    d.category_id,
    CAST(d.product_id AS VARCHAR) AS product_ids,
    d.price AS trigger_value,
    ROUND(CAST(d.cycle_days AS NUMERIC), 1) AS cycle_days,
    d.cycle_learnt
FROM due AS d
WHERE
    d.triggered_at > :since
    AND d.triggered_at <= :as_of
    AND NOT EXISTS (
        SELECT 1
        FROM purchases AS again
        WHERE
            again.customer_id = d.customer_id
            AND again.product_id = d.product_id
            AND again.ordered_at > d.ordered_at
    );
