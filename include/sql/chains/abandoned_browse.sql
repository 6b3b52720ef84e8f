-- Abandoned browse (also used by expensive_browse with another price band): a customer looked at a product
-- at least :min_views times, or for at least :min_seconds, within :browse_hours, then did not look at it
-- again for :idle_hours, and neither carted nor bought anything meanwhile.
-- Inputs: crm.events (view_product with duration_s, add_to_cart), crm.orders, crm.ref_order_statuses
--   (counts_as_purchase), crm.products (price, category).
-- Output: customer_id, trigger_key ('product-<id>'), triggered_at (the last view), product_id,
--   category_id, product_ids (the product), trigger_value (its price), views, view_seconds.
-- Parameters: :since, :as_of (the view goes idle in (since, as_of]), :idle_hours, :browse_hours,
--   :min_views, :min_seconds, :min_price and :max_price (the product's price band, max excluded).
-- Every read of crm.events and crm.orders also carries a constant time bound implied by its correlated one
-- (the idle window, the browse_hours before it), so a run reads the days it needs, not the whole history.
-- A view is the last of its product when the next view of it (in time, then event id) comes after the idle
-- hours or not at all: one pass over the window's views, not a look-up of later views for each of them.
-- The price band is applied to those last views, before their earlier views are looked up: the expensive
-- band's look-ups are a fifth of all. On PostgreSQL a look-up reads the product's views through
-- events_product_views_idx (migration crm/0032).
WITH window_views AS (
    SELECT
        v.customer_id,
        v.product_id,
        v.ts,
        LEAD(v.ts) OVER (PARTITION BY v.customer_id, v.product_id ORDER BY v.ts, v.event_id) AS next_view_at
    FROM crm.events AS v
    WHERE
        v.event_type = 'view_product'
        AND v.product_id IS NOT NULL
        AND v.ts > :since - :idle_hours * INTERVAL '1 hour'
        AND v.ts <= :as_of
),

last_views AS (
    SELECT
        wv.customer_id,
        wv.product_id,
        wv.ts,
        p.category_id,
        p.price
    FROM window_views AS wv
    INNER JOIN crm.products AS p ON wv.product_id = p.product_id
    WHERE
        wv.ts <= :as_of - :idle_hours * INTERVAL '1 hour'
        AND (wv.next_view_at IS NULL OR wv.next_view_at > wv.ts + :idle_hours * INTERVAL '1 hour')
        AND p.price >= :min_price
        AND p.price < :max_price
),

browsed AS (
    SELECT
        lv.customer_id,
        lv.product_id,
        lv.ts,
        lv.category_id,
        lv.price,
        COUNT(*) AS views,
        SUM(COALESCE(w.duration_s, 0)) AS view_seconds,
        MIN(w.ts) AS first_view_at
    FROM last_views AS lv
    INNER JOIN crm.events AS w
        ON
            lv.customer_id = w.customer_id
            AND lv.product_id = w.product_id
            AND w.event_type = 'view_product'
            AND lv.ts >= w.ts
            AND w.ts > lv.ts - :browse_hours * INTERVAL '1 hour'
            AND w.ts > :since - :idle_hours * INTERVAL '1 hour' - :browse_hours * INTERVAL '1 hour'
            AND w.ts <= :as_of - :idle_hours * INTERVAL '1 hour'
    GROUP BY lv.customer_id, lv.product_id, lv.ts, lv.category_id, lv.price
    HAVING COUNT(*) >= :min_views OR SUM(COALESCE(w.duration_s, 0)) >= :min_seconds
)

SELECT
    b.customer_id,
    'product-' || CAST(b.product_id AS VARCHAR) AS trigger_key,
    b.ts AS triggered_at,
    b.product_id,
    b.category_id,
    CAST(b.product_id AS VARCHAR) AS product_ids,
    b.price AS trigger_value,
    b.views,
    b.view_seconds
FROM browsed AS b
WHERE
    NOT EXISTS (
        SELECT 1
        FROM crm.events AS c
        WHERE
            c.customer_id = b.customer_id
            AND c.event_type = 'add_to_cart'
            AND c.ts >= b.first_view_at
            AND c.ts <= b.ts + :idle_hours * INTERVAL '1 hour'
            AND c.ts > :since - :idle_hours * INTERVAL '1 hour' - :browse_hours * INTERVAL '1 hour'
            AND c.ts <= :as_of
    )
    AND NOT EXISTS (
        SELECT 1
        FROM crm.orders AS o
        INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
        WHERE
            o.customer_id = b.customer_id
            AND st.counts_as_purchase
            AND o.ordered_at >= b.first_view_at
            AND o.ordered_at <= b.ts + :idle_hours * INTERVAL '1 hour'
            AND o.ordered_at > :since - :idle_hours * INTERVAL '1 hour' - :browse_hours * INTERVAL '1 hour'
            AND o.ordered_at <= :as_of
    );
