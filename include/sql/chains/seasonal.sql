-- Seasonal: an occasion of the calendar (crm.calendar_occasions: New Year, 8 March, Black Friday…) starts;
-- customers who bought within :active_days before it get picks for the occasion.
-- Inputs: crm.calendar_occasions (starts_month, starts_day), crm.customer_state (last_order_at).
-- Output: customer_id, trigger_key ('season-<occasion>-<year>'), triggered_at (the occasion's start,
--   00:00 UTC), occasion_id, occasion_name.
-- Parameters: :since, :as_of (occasions starting in (since, as_of]), :active_days.
WITH years AS (
    SELECT CAST(EXTRACT(YEAR FROM CAST(:as_of AS TIMESTAMP)) AS INTEGER) + y.shift AS calendar_year
    FROM (VALUES (-1), (0)) AS y (shift)
),

occasions AS (
    SELECT
        o.occasion_id,
        o.name_ru,
        y.calendar_year,
        CAST(MAKE_DATE(y.calendar_year, o.starts_month, o.starts_day) AS TIMESTAMP) AS starts_at
    FROM crm.calendar_occasions AS o
    CROSS JOIN years AS y
),

-- The occasions starting in the window: none in almost every hourly run.
starting AS MATERIALIZED (
    SELECT
        occasion_id,
        name_ru,
        calendar_year,
        starts_at
    FROM occasions
    WHERE starts_at > :since AND starts_at <= :as_of
)

SELECT
    cs.customer_id,
    'season-' || oc.occasion_id || '-' || CAST(oc.calendar_year AS VARCHAR) AS trigger_key,
    oc.starts_at AS triggered_at,
    oc.occasion_id,
    oc.name_ru AS occasion_name
FROM starting AS oc
INNER JOIN crm.customer_state AS cs
    ON
        cs.last_order_at > oc.starts_at - :active_days * INTERVAL '1 day'
        AND oc.starts_at >= cs.last_order_at
-- Checked once before the join: without it PostgreSQL read every customer's state to join it to no
-- occasion (0.13 s an hour at 1 M customers).
WHERE EXISTS (SELECT 1 FROM starting);
