-- Welcome: a customer registered, or subscribed to the newsletter, and has not bought yet.
-- Inputs: crm.customers (registered_at, signup_source), crm.events (event_type 'subscribe'),
--   crm.customer_state (first_order_at).
-- Output: customer_id, trigger_key ('welcome': once per customer), triggered_at (registration or
--   subscription time), signup_source.
-- Parameters: :since, :as_of (signups in (since, as_of]).
WITH signups AS (
    SELECT
        c.customer_id,
        c.registered_at AS triggered_at,
        c.signup_source
    FROM crm.customers AS c
    WHERE c.registered_at > :since AND c.registered_at <= :as_of
    UNION ALL
    SELECT
        e.customer_id,
        e.ts AS triggered_at,
        'subscribe' AS signup_source
    FROM crm.events AS e
    WHERE e.event_type = 'subscribe' AND e.ts > :since AND e.ts <= :as_of
)

SELECT
    s.customer_id,
    'welcome' AS trigger_key,
    s.triggered_at,
    s.signup_source
FROM signups AS s
LEFT JOIN crm.customer_state AS cs ON s.customer_id = cs.customer_id
WHERE cs.first_order_at IS NULL OR cs.first_order_at > s.triggered_at;
