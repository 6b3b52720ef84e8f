-- Refresh crm.customer_state for the customers this ingest run touched (and only them), so an hourly run
-- costs in proportion to the hour's new rows, not to the history.
-- Order aggregates are recomputed from crm.orders for those customers (statuses change, e.g. returns);
-- event timestamps come from this run's new events and are merged with the stored ones by GREATEST.
-- Inputs: touched_customers, crm.orders, crm.ref_order_statuses, stage_events (this run's events).
-- Outputs: crm.customer_state (upsert). Parameters: :now.
INSERT INTO crm.customer_state (
    customer_id, first_order_at, last_order_at, orders_count, returned_orders_count, online_orders_count,
    offline_orders_count, revenue_total, discount_total, avg_check, last_event_at, last_view_at,
    last_cart_at, last_app_open_at, updated_at
)
WITH order_stats AS (
    SELECT
        o.customer_id,
        MIN(CASE WHEN st.counts_as_purchase THEN o.ordered_at END) AS first_order_at,
        MAX(CASE WHEN st.counts_as_purchase THEN o.ordered_at END) AS last_order_at,
        SUM(CASE WHEN st.counts_as_purchase THEN 1 ELSE 0 END) AS orders_count,
        SUM(CASE WHEN o.status = 'returned' THEN 1 ELSE 0 END) AS returned_orders_count,
        SUM(CASE WHEN st.counts_as_purchase AND o.channel = 'online' THEN 1 ELSE 0 END)
            AS online_orders_count,
        SUM(CASE WHEN st.counts_as_purchase AND o.channel = 'offline' THEN 1 ELSE 0 END)
            AS offline_orders_count,
        SUM(CASE WHEN st.counts_as_purchase THEN o.total_amount ELSE 0 END) AS revenue_total,
        SUM(CASE WHEN st.counts_as_purchase THEN o.discount_amount ELSE 0 END) AS discount_total
    FROM crm.orders AS o
    INNER JOIN touched_customers AS t ON o.customer_id = t.customer_id
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    GROUP BY o.customer_id
),

event_stats AS (
    SELECT
        customer_id,
        MAX(ts) AS last_event_at,
        MAX(CASE WHEN event_type IN ('view_product', 'view_category') THEN ts END) AS last_view_at,
        MAX(CASE WHEN event_type = 'add_to_cart' THEN ts END) AS last_cart_at,
        MAX(CASE WHEN event_type = 'app_open' THEN ts END) AS last_app_open_at
    FROM stage_events
    WHERE outcome = 'new'
    GROUP BY customer_id
)

SELECT
    t.customer_id,
    o.first_order_at,
    o.last_order_at,
    COALESCE(o.orders_count, 0) AS orders_count,
    COALESCE(o.returned_orders_count, 0) AS returned_orders_count,
    COALESCE(o.online_orders_count, 0) AS online_orders_count,
    COALESCE(o.offline_orders_count, 0) AS offline_orders_count,
    COALESCE(o.revenue_total, 0) AS revenue_total,
    COALESCE(o.discount_total, 0) AS discount_total,
    o.revenue_total / NULLIF(o.orders_count, 0) AS avg_check,
    e.last_event_at,
    e.last_view_at,
    e.last_cart_at,
    e.last_app_open_at,
    :now AS updated_at
FROM touched_customers AS t
INNER JOIN crm.customers AS c ON t.customer_id = c.customer_id
LEFT JOIN order_stats AS o ON t.customer_id = o.customer_id
LEFT JOIN event_stats AS e ON t.customer_id = e.customer_id
ON CONFLICT (customer_id) DO UPDATE SET
    first_order_at = excluded.first_order_at,
    last_order_at = excluded.last_order_at,
    orders_count = excluded.orders_count,
    returned_orders_count = excluded.returned_orders_count,
    online_orders_count = excluded.online_orders_count,
    offline_orders_count = excluded.offline_orders_count,
    revenue_total = excluded.revenue_total,
    discount_total = excluded.discount_total,
    avg_check = excluded.avg_check,
    last_event_at = GREATEST(customer_state.last_event_at, excluded.last_event_at),
    last_view_at = GREATEST(customer_state.last_view_at, excluded.last_view_at),
    last_cart_at = GREATEST(customer_state.last_cart_at, excluded.last_cart_at),
    last_app_open_at = GREATEST(customer_state.last_app_open_at, excluded.last_app_open_at),
    updated_at = excluded.updated_at
