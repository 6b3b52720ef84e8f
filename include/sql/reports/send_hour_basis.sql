-- Where the customers' best send hours come from, on the newest learned date up to :until_date, as the
-- contact policy picks them (policy/due_steps.sql): the customer's own responses ('customer'), else their RFM
-- segment's profile ('segment'), else the shop's ('shop').
-- Inputs: crm.customers, crm.customer_send_hours and crm.send_hour_profiles of that date, crm.customer_scores
--   of that date (the segment; 'none' without a purchase).
-- Outputs: as_of, basis ('customer', 'segment', 'shop'), customers, own_hour_differs (customers of the basis
--   whose own best hour is not their segment's: where their own responses moved the hour). No rows before
--   any hours are learned. Parameters: :until_date.
WITH latest AS (
    SELECT MAX(as_of) AS as_of
    FROM crm.send_hour_profiles
    WHERE as_of <= :until_date
),

segment_best AS (
    SELECT
        p.segment,
        p.hour,
        ROW_NUMBER() OVER (PARTITION BY p.segment ORDER BY p.probability DESC, p.hour ASC) AS place
    FROM crm.send_hour_profiles AS p
    INNER JOIN latest AS l ON p.as_of = l.as_of
),

bases AS (
    SELECT
        l.as_of,
        CASE
            WHEN h.best_hour IS NOT NULL THEN 'customer'
            WHEN g.hour IS NOT NULL THEN 'segment'
            ELSE 'shop'
        END AS basis,
        CASE WHEN h.best_hour IS NOT NULL AND h.best_hour <> g.hour THEN 1 ELSE 0 END AS own_hour_differs
    FROM crm.customers AS c
    INNER JOIN latest AS l ON l.as_of IS NOT NULL
    LEFT JOIN crm.customer_send_hours AS h ON l.as_of = h.as_of AND c.customer_id = h.customer_id
    LEFT JOIN crm.customer_scores AS sc ON l.as_of = sc.as_of AND c.customer_id = sc.customer_id
    LEFT JOIN segment_best AS g ON COALESCE(sc.rfm_code, 'none') = g.segment AND g.place = 1
)

SELECT
    as_of,
    basis,
    COUNT(*) AS customers,
    SUM(own_hour_differs) AS own_hour_differs
FROM bases
GROUP BY as_of, basis
ORDER BY CASE basis WHEN 'customer' THEN 1 WHEN 'segment' THEN 2 ELSE 3 END
