-- Site and app activity features as of the end of a snapshot date, for customers active in the 90 days
-- before it. A retailer without web events simply gets no rows: every customer then takes the neutral values
-- (zero counts, days_since_last_event = 90), exactly as a customer with no recent activity.
-- Inputs: crm.events.
-- Outputs: customer_id, events_30d, sessions_30d, product_views_30d, cart_adds_30d, app_opens_30d,
--   days_since_last_event (0-89).
-- Parameters: :as_of (date; events before the following midnight count).
--   :sample_every (1: every customer; k: about one in k, those whose customer_id hashes (times 2654435761
--   modulo 2^31 - 1) to :sample_part modulo k: the same customers in every query, snapshot and week; the k
--   parts 0 to k - 1 together are every customer).
-- Sessions are counted per customer after a first grouping by (customer, session), not by COUNT(DISTINCT):
-- PostgreSQL can only feed a COUNT(DISTINCT) sorted rows, and took them in customer order from
-- events_customer_ts_idx, fetching the 90 days' events from all over the table (18 s at 100 k customers).
-- Grouped in two steps the window is read through events_ts_brin, in parallel.
WITH sessions AS (
    SELECT
        customer_id,
        session_id,
        SUM(CASE WHEN ts >= CAST(:as_of AS DATE) - 29 THEN 1 ELSE 0 END) AS events_30d,
        SUM(
            CASE WHEN ts >= CAST(:as_of AS DATE) - 29 AND event_type = 'view_product' THEN 1 ELSE 0 END
        ) AS product_views_30d,
        SUM(
            CASE WHEN ts >= CAST(:as_of AS DATE) - 29 AND event_type = 'add_to_cart' THEN 1 ELSE 0 END
        ) AS cart_adds_30d,
        SUM(
            CASE WHEN ts >= CAST(:as_of AS DATE) - 29 AND event_type = 'app_open' THEN 1 ELSE 0 END
        ) AS app_opens_30d,
        MAX(ts) AS last_ts
    FROM crm.events
    WHERE
        ts >= CAST(:as_of AS DATE) - 89
        AND ts < CAST(:as_of AS DATE) + 1
        AND (
            :sample_every = 1
            OR MOD(MOD(MOD(customer_id, 2147483647) * 2654435761, 2147483647), :sample_every) = :sample_part
        )
    GROUP BY customer_id, session_id
)

SELECT
    customer_id,
    SUM(events_30d) AS events_30d,
    -- (a session with an event in the 30 days; events without a session are no session)
    SUM(CASE WHEN session_id IS NOT NULL AND events_30d > 0 THEN 1 ELSE 0 END) AS sessions_30d,
    SUM(product_views_30d) AS product_views_30d,
    SUM(cart_adds_30d) AS cart_adds_30d,
    SUM(app_opens_30d) AS app_opens_30d,
    CAST(:as_of AS DATE) - CAST(MAX(last_ts) AS DATE) AS days_since_last_event
FROM sessions
GROUP BY customer_id
