-- Per customer and consumable line they have bought, up to the end of the as-of date: the last purchase of
-- the line and the customer's cycle for it. A line is the product's product_line, else its category's name
-- (cartridges of any printer generation are one line). Items of one line bought on one day are one purchase.
-- The line's cycle is the median gap between two purchases of the line by the same customer over the last
-- :learn_days when at least :min_repeats such gaps exist (gaps of a day or less are a forgotten item, not a
-- cycle), otherwise the median replenishment_days of the line's products. The customer's cycle is their own
-- gaps and :prior_weight times the line's cycle, averaged: (sum of own gaps + weight x line cycle) /
-- (own gaps + weight), so a single long or short gap moves it only part of the way.
-- Inputs: crm.orders, crm.order_items, crm.ref_order_statuses, crm.products (is_consumable,
--   replenishment_days, product_line), crm.categories (name).
-- Output: customer_id, line, purchases (days with a purchase of the line), last_purchase_at, last_order_id
--   (the newest order with the line), own_gaps, last_gap_days (days between the last two purchases of the
--   line, NULL with one), line_cycle_days, cycle_days, basis ('customer', 'line' or 'catalogue').
-- Parameters: :as_of (date), :learn_days, :min_repeats, :prior_weight.
WITH line_products AS (
    SELECT
        p.product_id,
        p.replenishment_days,
        COALESCE(p.product_line, c.name, 'category ' || CAST(p.category_id AS VARCHAR)) AS line
    FROM crm.products AS p
    LEFT JOIN crm.categories AS c ON p.category_id = c.category_id
    WHERE p.is_consumable
),

catalogue AS (
    SELECT
        line,
        PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY replenishment_days) AS catalogue_days
    FROM line_products
    WHERE replenishment_days > 0
    GROUP BY line
),

purchases AS (
    SELECT
        o.customer_id,
        o.order_id,
        o.ordered_at,
        lp.line,
        CAST(o.ordered_at AS DATE) AS purchase_day
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
    INNER JOIN line_products AS lp ON oi.product_id = lp.product_id
    WHERE st.counts_as_purchase AND o.ordered_at < CAST(:as_of AS DATE) + 1
),

line_days AS (
    SELECT
        customer_id,
        line,
        purchase_day,
        MAX(ordered_at) AS ordered_at
    FROM purchases
    GROUP BY customer_id, line, purchase_day
),

gaps AS (
    SELECT
        customer_id,
        line,
        purchase_day,
        ordered_at,
        purchase_day - LAG(purchase_day) OVER (
            PARTITION BY customer_id, line ORDER BY purchase_day
        ) AS gap_days,
        ROW_NUMBER() OVER (PARTITION BY customer_id, line ORDER BY purchase_day DESC) AS newest_day_no
    FROM line_days
),

learnt AS (
    SELECT
        line,
        COUNT(*) AS repeats,
        PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY gap_days) AS median_gap_days
    FROM gaps
    WHERE gap_days > 1 AND purchase_day > CAST(:as_of AS DATE) - :learn_days
    GROUP BY line
),

cycles AS (
    SELECT
        ca.line,
        COALESCE(l.repeats >= :min_repeats, FALSE) AS cycle_learnt,
        CAST(
            CASE WHEN l.repeats >= :min_repeats THEN l.median_gap_days ELSE ca.catalogue_days END
            AS DOUBLE PRECISION
        ) AS line_cycle_days
    FROM catalogue AS ca
    LEFT JOIN learnt AS l ON ca.line = l.line
),

newest AS (
    SELECT
        customer_id,
        line,
        order_id,
        ROW_NUMBER() OVER (
            PARTITION BY customer_id, line ORDER BY ordered_at DESC, order_id DESC
        ) AS newest_no
    FROM purchases
),

per_customer AS (
    SELECT
        customer_id,
        line,
        COUNT(*) AS purchases,
        MAX(ordered_at) AS last_purchase_at,
        SUM(CASE WHEN gap_days > 1 THEN 1 ELSE 0 END) AS own_gaps,
        SUM(CASE WHEN gap_days > 1 THEN gap_days ELSE 0 END) AS own_gap_days,
        MAX(CASE WHEN newest_day_no = 1 THEN gap_days END) AS last_gap_days
    FROM gaps
    GROUP BY customer_id, line
)

SELECT
    pc.customer_id,
    pc.line,
    pc.purchases,
    pc.last_purchase_at,
    n.order_id AS last_order_id,
    pc.own_gaps,
    pc.last_gap_days,
    cy.line_cycle_days,
    (pc.own_gap_days + :prior_weight * cy.line_cycle_days) / (pc.own_gaps + :prior_weight) AS cycle_days,
    CASE
        WHEN pc.own_gaps > 0 THEN 'customer'
        WHEN cy.cycle_learnt THEN 'line'
        ELSE 'catalogue'
    END AS basis
FROM per_customer AS pc
INNER JOIN cycles AS cy ON pc.line = cy.line
INNER JOIN newest AS n ON pc.customer_id = n.customer_id AND pc.line = n.line AND n.newest_no = 1
ORDER BY pc.customer_id, pc.line
