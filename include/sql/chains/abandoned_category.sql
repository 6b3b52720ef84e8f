-- Abandoned category: a customer opened a category at least :min_category_views times within
-- :browse_hours without focusing on a product (at most :max_product_views product views in it), then
-- left it alone for :idle_hours, and neither carted nor bought anything meanwhile.
-- Inputs: crm.events (view_category, view_product, add_to_cart), crm.products (category of a viewed
--   product), crm.orders, crm.ref_order_statuses (counts_as_purchase).
-- Output: customer_id, trigger_key ('category-<id>'), triggered_at (the last category view),
--   category_id, category_views, product_views.
-- Parameters: :since, :as_of (the category goes idle in (since, as_of]), :idle_hours, :browse_hours,
--   :min_category_views, :max_product_views.
-- Every read of crm.events and crm.orders also carries a constant time bound implied by its correlated one
-- (the idle window, the browse_hours before it), so a run reads the days it needs, not the whole history.
-- A visit is the last of its category when the next visit to it (in time, then event id) comes after the
-- idle hours or not at all: one pass over the window's visits, not a look-up of later visits for each.
-- The product views in a visited category are counted by one join of the window's product views with their
-- products, not by a look-up of each customer's views per visit.
WITH window_visits AS (
    SELECT
        v.customer_id,
        v.category_id,
        v.ts,
        LEAD(v.ts) OVER (PARTITION BY v.customer_id, v.category_id ORDER BY v.ts, v.event_id) AS next_visit_at
    FROM crm.events AS v
    WHERE
        v.event_type = 'view_category'
        AND v.category_id IS NOT NULL
        AND v.ts > :since - :idle_hours * INTERVAL '1 hour'
        AND v.ts <= :as_of
),

last_visits AS (
    SELECT
        wv.customer_id,
        wv.category_id,
        wv.ts
    FROM window_visits AS wv
    WHERE
        wv.ts <= :as_of - :idle_hours * INTERVAL '1 hour'
        AND (wv.next_visit_at IS NULL OR wv.next_visit_at > wv.ts + :idle_hours * INTERVAL '1 hour')
),

visited AS (
    SELECT
        lv.customer_id,
        lv.category_id,
        lv.ts,
        COUNT(*) AS category_views,
        MIN(w.ts) AS first_visit_at
    FROM last_visits AS lv
    INNER JOIN crm.events AS w
        ON
            lv.customer_id = w.customer_id
            AND lv.category_id = w.category_id
            AND w.event_type = 'view_category'
            AND lv.ts >= w.ts
            AND w.ts > lv.ts - :browse_hours * INTERVAL '1 hour'
            AND w.ts > :since - :idle_hours * INTERVAL '1 hour' - :browse_hours * INTERVAL '1 hour'
            AND w.ts <= :as_of - :idle_hours * INTERVAL '1 hour'
    GROUP BY lv.customer_id, lv.category_id, lv.ts
    HAVING COUNT(*) >= :min_category_views
),

category_product_views AS (
    SELECT
        pv.customer_id,
        p.category_id,
        pv.ts
    FROM crm.events AS pv
    INNER JOIN crm.products AS p ON pv.product_id = p.product_id
    WHERE
        pv.event_type = 'view_product'
        AND pv.ts > :since - :idle_hours * INTERVAL '1 hour' - :browse_hours * INTERVAL '1 hour'
        AND pv.ts <= :as_of
),

focus AS (
    SELECT
        vi.customer_id,
        vi.category_id,
        vi.ts,
        vi.category_views,
        vi.first_visit_at,
        COUNT(cpv.ts) AS product_views
    FROM visited AS vi
    LEFT JOIN category_product_views AS cpv
        ON
            vi.customer_id = cpv.customer_id
            AND vi.category_id = cpv.category_id
            AND vi.first_visit_at <= cpv.ts
            AND vi.ts + :idle_hours * INTERVAL '1 hour' >= cpv.ts
    GROUP BY vi.customer_id, vi.category_id, vi.ts, vi.category_views, vi.first_visit_at
)

SELECT
    f.customer_id,
    'category-' || CAST(f.category_id AS VARCHAR) AS trigger_key,
    f.ts AS triggered_at,
    f.category_id,
    f.category_views,
    f.product_views
FROM focus AS f
WHERE
    f.product_views <= :max_product_views
    AND NOT EXISTS (
        SELECT 1
        FROM crm.events AS c
        WHERE
            c.customer_id = f.customer_id
            AND c.event_type = 'add_to_cart'
            AND c.ts >= f.first_visit_at
            AND c.ts <= f.ts + :idle_hours * INTERVAL '1 hour'
            AND c.ts > :since - :idle_hours * INTERVAL '1 hour' - :browse_hours * INTERVAL '1 hour'
            AND c.ts <= :as_of
    )
    AND NOT EXISTS (
        SELECT 1
        FROM crm.orders AS o
        INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
        WHERE
            o.customer_id = f.customer_id
            AND st.counts_as_purchase
            AND o.ordered_at >= f.first_visit_at
            AND o.ordered_at <= f.ts + :idle_hours * INTERVAL '1 hour'
            AND o.ordered_at > :since - :idle_hours * INTERVAL '1 hour' - :browse_hours * INTERVAL '1 hour'
            AND o.ordered_at <= :as_of
    );
