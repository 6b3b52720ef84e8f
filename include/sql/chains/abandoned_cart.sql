-- Abandoned cart: a customer put products in the cart and then neither added more nor ordered for
-- :idle_hours. The cart is what the customer added in the :cart_days before, minus what was removed or
-- bought since.
-- Inputs: crm.events (add_to_cart, remove_from_cart), crm.orders, crm.order_items,
--   crm.ref_order_statuses (counts_as_purchase), crm.products (price, category).
-- Output: one row per idle cart: customer_id, trigger_key ('cart-<event id of the last addition>'),
--   triggered_at (the last addition; steps are timed from it), product_ids (comma-separated items),
--   trigger_value (the items' current prices), items (how many), category_id (of the dearest item).
-- Parameters: :since, :as_of (the cart becomes idle in (since, as_of]), :idle_hours, :cart_days.
-- Every read of crm.events and crm.orders also carries a constant time bound implied by its correlated one
-- (the idle window, the cart_days before it), so a run reads the days it needs, not the whole history.
-- The products bought in those days are read once (purchased_items), not looked up again for every cart
-- item: on PostgreSQL a lookup per item read each product's order lines, 35 s for an hour of 100 k events.
-- An addition ends a cart when the customer's next addition (in time, then event id) comes after the idle
-- hours or not at all: one pass over the window's additions, not a look-up of later ones for each.
-- The additions and removals of the cart days are read once each (cart_additions, cart_removals) and
-- joined to the idle carts, not looked up per cart and per item: on PostgreSQL at 1 M customers, with
-- 100 k new events an hour, the look-ups read each customer's three days of events at random (6.6 s an
-- hour, 27 k idle carts).
WITH purchases AS (
    SELECT
        o.customer_id,
        o.order_id,
        o.ordered_at
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    WHERE
        st.counts_as_purchase
        AND o.ordered_at > :since - :idle_hours * INTERVAL '1 hour' - :cart_days * INTERVAL '1 day'
        AND o.ordered_at <= :as_of
),

purchased_items AS MATERIALIZED (
    SELECT
        pu.customer_id,
        oi.product_id,
        pu.ordered_at
    FROM purchases AS pu
    INNER JOIN crm.order_items AS oi ON pu.order_id = oi.order_id
),

window_additions AS (
    SELECT
        e.customer_id,
        e.event_id,
        e.ts,
        LEAD(e.ts) OVER (PARTITION BY e.customer_id ORDER BY e.ts, e.event_id) AS next_addition_at
    FROM crm.events AS e
    WHERE
        e.event_type = 'add_to_cart'
        AND e.ts > :since - :idle_hours * INTERVAL '1 hour'
        AND e.ts <= :as_of
),

idle_carts AS (
    SELECT
        wa.customer_id,
        wa.event_id,
        wa.ts
    FROM window_additions AS wa
    WHERE
        wa.ts <= :as_of - :idle_hours * INTERVAL '1 hour'
        AND (wa.next_addition_at IS NULL OR wa.next_addition_at > wa.ts + :idle_hours * INTERVAL '1 hour')
        AND NOT EXISTS (
            SELECT 1
            FROM purchases AS pu
            WHERE
                pu.customer_id = wa.customer_id
                AND pu.ordered_at > wa.ts
                AND pu.ordered_at <= wa.ts + :idle_hours * INTERVAL '1 hour'
        )
),

cart_additions AS MATERIALIZED (
    SELECT
        a.customer_id,
        a.product_id,
        a.ts
    FROM crm.events AS a
    WHERE
        a.event_type = 'add_to_cart'
        AND a.ts > :since - :idle_hours * INTERVAL '1 hour' - :cart_days * INTERVAL '1 day'
        AND a.ts <= :as_of - :idle_hours * INTERVAL '1 hour'
),

cart_removals AS MATERIALIZED (
    SELECT
        r.customer_id,
        r.product_id,
        r.ts
    FROM crm.events AS r
    WHERE
        r.event_type = 'remove_from_cart'
        AND r.ts > :since - :idle_hours * INTERVAL '1 hour' - :cart_days * INTERVAL '1 day'
        AND r.ts <= :as_of - :idle_hours * INTERVAL '1 hour'
),

additions AS (
    SELECT
        ic.customer_id,
        ic.event_id,
        ic.ts,
        a.product_id,
        MAX(a.ts) AS added_at
    FROM idle_carts AS ic
    INNER JOIN cart_additions AS a
        ON
            ic.customer_id = a.customer_id
            AND ic.ts >= a.ts
            AND a.ts > ic.ts - :cart_days * INTERVAL '1 day'
    GROUP BY ic.customer_id, ic.event_id, ic.ts, a.product_id
),

items AS (
    SELECT
        ad.customer_id,
        ad.event_id,
        ad.ts,
        ad.product_id,
        p.price,
        p.category_id,
        ROW_NUMBER() OVER (PARTITION BY ad.event_id ORDER BY p.price DESC, ad.product_id ASC) AS price_rank
    FROM additions AS ad
    INNER JOIN crm.products AS p ON ad.product_id = p.product_id
    WHERE
        NOT EXISTS (
            SELECT 1
            FROM cart_removals AS r
            WHERE
                r.customer_id = ad.customer_id
                AND r.product_id = ad.product_id
                AND r.ts >= ad.added_at
                AND r.ts <= ad.ts
        )
        AND NOT EXISTS (
            SELECT 1
            FROM purchased_items AS pi
            WHERE
                pi.customer_id = ad.customer_id
                AND pi.product_id = ad.product_id
                AND pi.ordered_at >= ad.added_at
                AND pi.ordered_at <= ad.ts
        )
)

SELECT
    customer_id,
    'cart-' || CAST(event_id AS VARCHAR) AS trigger_key,
    ts AS triggered_at,
    STRING_AGG(CAST(product_id AS VARCHAR), ',' ORDER BY product_id) AS product_ids,
    SUM(price) AS trigger_value,
    COUNT(*) AS items,
    MAX(CASE WHEN price_rank = 1 THEN category_id END) AS category_id
FROM items
GROUP BY customer_id, event_id, ts;
