-- Replenishment ("Пополни запасы"): a consumable a customer bought is nearly used up. The chain starts
-- :lead_days before the customer's expected next purchase of the product's consumable line, unless they
-- bought the product again. The expected date comes from the daily scores in force (:scores_as_of, the
-- newest scored date before the run): crm.customer_line_next_orders has, per customer and line, the line's
-- last order and the customer's cycle for it, their own weighted with the line's. Only that last order
-- triggers the chain: an earlier purchase of the line has been restocked since. An order the scores have
-- not seen (placed or loaded from :unscored_from on, or on a warehouse without scores) is timed by the
-- product's cycle: crm.product_cycles (learnt by the same scores from repeat purchases) when at least
-- :min_repeats repeats back it, otherwise the product's replenishment_days.
-- So an hourly run reads the reminders due in its window and the orders since the scores, never the history.
-- The daily scores may move a reminder's moment back past the chain's last run: the window reaches
-- :slip_hours behind :since, so such a reminder goes out late rather than never (its trigger key is the
-- order and product, which enters once: reentry_days is longer than the slip).
-- Inputs: crm.customer_line_next_orders, crm.product_cycles, crm.orders, crm.order_items,
--   crm.ref_order_statuses, crm.products (is_consumable, replenishment_days, product_line), crm.categories
--   (name: the line of a consumable without product_line).
-- Output: customer_id, trigger_key ('order-<id>-product-<id>'), triggered_at (expected next purchase minus
--   the lead), order_id, product_id, category_id, product_ids (the product), trigger_value (its price),
--   cycle_days, cycle_learnt (true when learnt from repeat purchases, the customer's or everyone's), line,
--   timing ('customer', 'line' or 'catalogue' from the scores; 'product_learnt' or 'product_catalogue' when
--   the product's cycle applies), expected_purchase_at (the expected next purchase).
-- Parameters: :since, :as_of (triggers in (since - slip_hours, as_of]), :slip_hours, :lead_days,
--   :min_repeats; :scores_as_of, :unscored_from (filled by the engine from crm.score_runs).
WITH cycles AS (
    SELECT
        p.product_id,
        p.category_id,
        p.price,
        COALESCE(p.product_line, cat.name, 'category ' || CAST(p.category_id AS VARCHAR)) AS line,
        COALESCE(pc.repeats >= :min_repeats, FALSE) AS cycle_learnt,
        CAST(
            CASE WHEN pc.repeats >= :min_repeats THEN pc.median_gap_days ELSE p.replenishment_days END
            AS DOUBLE PRECISION
        ) AS cycle_days
    FROM crm.products AS p
    LEFT JOIN crm.categories AS cat ON p.category_id = cat.category_id
    LEFT JOIN crm.product_cycles AS pc ON p.product_id = pc.product_id AND pc.as_of = :scores_as_of
    WHERE p.is_consumable
),

-- The lines whose expected purchase minus the lead falls in the window, as the scores timed them.
scored_due AS (
    SELECT
        n.customer_id,
        n.line,
        n.last_order_id,
        n.last_purchase_at,
        n.cycle_days,
        n.basis
    FROM crm.customer_line_next_orders AS n
    WHERE
        n.as_of = :scores_as_of
        AND n.next_purchase_at > :since - :slip_hours * INTERVAL '1 hour' + :lead_days * INTERVAL '1 day'
        AND n.next_purchase_at <= :as_of + :lead_days * INTERVAL '1 day'
),

-- Orders the scores may not have seen: placed or loaded since, or with an item loaded since.
unscored_orders AS (
    SELECT o.order_id FROM crm.orders AS o
    WHERE o.ordered_at >= :unscored_from AND o.ordered_at <= :as_of
    UNION
    SELECT o.order_id FROM crm.orders AS o
    WHERE o.loaded_at >= :unscored_from
    UNION
    SELECT oi.order_id FROM crm.order_items AS oi
    WHERE oi.loaded_at >= :unscored_from
),

unscored_lines AS MATERIALIZED (
    SELECT
        o.customer_id,
        o.order_id,
        o.ordered_at,
        o.status,
        oi.product_id
    FROM unscored_orders AS u
    INNER JOIN crm.orders AS o ON u.order_id = o.order_id
    INNER JOIN crm.order_items AS oi ON u.order_id = oi.order_id
    WHERE o.ordered_at <= :as_of
),

unscored AS (
    SELECT
        ul.customer_id,
        ul.order_id,
        ul.ordered_at,
        c.product_id,
        c.line,
        c.category_id,
        c.price,
        c.cycle_days,
        c.cycle_learnt
    FROM unscored_lines AS ul
    INNER JOIN crm.ref_order_statuses AS st ON ul.status = st.status
    INNER JOIN cycles AS c ON ul.product_id = c.product_id
    WHERE st.counts_as_purchase
),

-- Unseen orders that no longer count as a purchase (a status that changed since the scores makes an order
-- one loaded since): a handful, read once (a hashed list, however few lines the planner expects due).
not_purchases AS (
    SELECT ul.order_id
    FROM unscored_lines AS ul
    INNER JOIN crm.ref_order_statuses AS st ON ul.status = st.status
    WHERE NOT st.counts_as_purchase
),

-- The line's last order, with each product of the line in it, unless it no longer counts as a purchase.
scored AS (
    SELECT
        sd.customer_id,
        sd.last_order_id AS order_id,
        sd.last_purchase_at AS ordered_at,
        c.product_id,
        sd.line,
        c.category_id,
        c.price,
        sd.cycle_days,
        sd.basis <> 'catalogue' AS cycle_learnt,
        sd.basis AS timing
    FROM scored_due AS sd
    INNER JOIN crm.order_items AS oi ON sd.last_order_id = oi.order_id
    INNER JOIN cycles AS c ON oi.product_id = c.product_id AND sd.line = c.line
    WHERE
        sd.last_purchase_at <= :as_of
        AND sd.last_order_id NOT IN (SELECT np.order_id FROM not_purchases AS np)
),

-- Unseen orders timed by the product's cycle; the line's last order as the scores saw it is timed above,
-- and an order older than it has been restocked since.
product_timed AS (
    SELECT
        u.customer_id,
        u.order_id,
        u.ordered_at,
        u.product_id,
        u.line,
        u.category_id,
        u.price,
        u.cycle_days,
        u.cycle_learnt,
        CASE WHEN u.cycle_learnt THEN 'product_learnt' ELSE 'product_catalogue' END AS timing
    FROM unscored AS u
    LEFT JOIN crm.customer_line_next_orders AS n
        ON
            n.as_of = :scores_as_of
            AND u.customer_id = n.customer_id
            AND u.line = n.line
    WHERE
        u.cycle_days IS NOT NULL
        AND u.ordered_at + (u.cycle_days - :lead_days) * INTERVAL '1 day'
        > :since - :slip_hours * INTERVAL '1 hour'
        AND u.ordered_at + (u.cycle_days - :lead_days) * INTERVAL '1 day' <= :as_of
        AND (
            n.customer_id IS NULL
            OR (u.order_id <> n.last_order_id AND u.ordered_at >= n.last_purchase_at)
        )
),

due AS (
    SELECT
        t.*,
        t.ordered_at + t.cycle_days * INTERVAL '1 day' AS expected_purchase_at,
        t.ordered_at + (t.cycle_days - :lead_days) * INTERVAL '1 day' AS triggered_at
    FROM (
        SELECT * FROM scored
        UNION ALL
        SELECT * FROM product_timed
    ) AS t
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
    -- A later purchase of the product: the scores saw none after the line's last order, so it is unseen.
    AND NOT EXISTS (
        SELECT 1
        FROM unscored AS again
        WHERE
            again.customer_id = d.customer_id
            AND again.product_id = d.product_id
            AND again.ordered_at > d.ordered_at
    );
