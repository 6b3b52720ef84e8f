-- Replenishment ("Пополни запасы"): a consumable a customer bought is nearly used up. The chain starts
-- :lead_days before the customer's expected next purchase of the product's consumable line, unless they
-- bought the product again. The expected date comes from the daily scores (crm.customer_line_next_orders,
-- written by the scores of the days before the run): the customer's own cycle for the line, weighted with
-- the line's cycle, counted from the order that triggers the chain when it is their newest purchase of the
-- line. An order the scores have not seen yet (bought since they ran), or a warehouse without scores, falls
-- back to the product's cycle: learnt from repeat purchases (median days between two purchases of it by the
-- same customer, over the last :learn_days) when at least :min_repeats such repeats exist, otherwise the
-- product's replenishment_days.
-- The daily scores may move a reminder's moment back past the chain's last run: the window reaches
-- :slip_hours behind :since, so such a reminder goes out late rather than never (its trigger key is the
-- order and product, which enters once: reentry_days is longer than the slip).
-- Inputs: crm.orders, crm.order_items, crm.ref_order_statuses, crm.products (is_consumable,
--   replenishment_days, product_line), crm.categories (name: the line of a consumable without product_line),
--   crm.customer_line_next_orders.
-- Output: customer_id, trigger_key ('order-<id>-product-<id>'), triggered_at (expected next purchase minus
--   the lead), order_id, product_id, category_id, product_ids (the product), trigger_value (its price),
--   cycle_days, cycle_learnt (true when learnt from repeat purchases, the customer's or everyone's), line,
--   timing ('customer', 'line' or 'catalogue' from the scores; 'product_learnt' or 'product_catalogue' when
--   the product's cycle applies), expected_purchase_at (the expected next purchase).
-- Parameters: :since, :as_of (triggers in (since - slip_hours, as_of]), :slip_hours, :lead_days,
--   :min_repeats, :learn_days.
WITH purchases AS (
    SELECT
        o.customer_id,
        o.order_id,
        o.ordered_at,
        oi.product_id,
        COALESCE(p.product_line, cat.name, 'category ' || CAST(p.category_id AS VARCHAR)) AS line
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
    INNER JOIN crm.products AS p ON oi.product_id = p.product_id
    LEFT JOIN crm.categories AS cat ON p.category_id = cat.category_id
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

scored AS (
    SELECT
        n.customer_id,
        n.line,
        n.last_order_id,
        n.cycle_days,
        n.basis
    FROM crm.customer_line_next_orders AS n
    WHERE
        n.as_of = (
            SELECT MAX(l.as_of) FROM crm.customer_line_next_orders AS l
            WHERE l.as_of < CAST(:as_of AS DATE)
        )
),

timed AS (
    SELECT
        pu.customer_id,
        pu.order_id,
        pu.ordered_at,
        pu.product_id,
        pu.line,
        c.category_id,
        c.price,
        COALESCE(sc.cycle_days, c.cycle_days) AS cycle_days,
        CASE WHEN sc.basis IS NULL THEN c.cycle_learnt ELSE sc.basis <> 'catalogue' END AS cycle_learnt,
        COALESCE(
            sc.basis, CASE WHEN c.cycle_learnt THEN 'product_learnt' ELSE 'product_catalogue' END
        ) AS timing
    FROM purchases AS pu
    INNER JOIN cycles AS c ON pu.product_id = c.product_id
    LEFT JOIN scored AS sc
        ON pu.customer_id = sc.customer_id AND pu.line = sc.line AND pu.order_id = sc.last_order_id
),

due AS (
    SELECT
        t.*,
        t.ordered_at + t.cycle_days * INTERVAL '1 day' AS expected_purchase_at,
        t.ordered_at + (t.cycle_days - :lead_days) * INTERVAL '1 day' AS triggered_at
    FROM timed AS t
    WHERE t.cycle_days IS NOT NULL
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
    d.cycle_learnt,
    d.line,
    d.timing,
    d.expected_purchase_at
FROM due AS d
WHERE
    d.triggered_at > :since - :slip_hours * INTERVAL '1 hour'
    AND d.triggered_at <= :as_of
    AND NOT EXISTS (
        SELECT 1
        FROM purchases AS again
        WHERE
            again.customer_id = d.customer_id
            AND again.product_id = d.product_id
            AND again.ordered_at > d.ordered_at
    );
