-- The due steps of one chains run with what the policy needs to know about each customer.
-- Inputs: crm.due_steps, crm.customers, crm.push_tokens, and for send_time 'optimal' steps the newest
--   learned send hours: crm.customer_send_hours, else crm.send_hour_profiles of the customer's segment
--   (crm.customer_scores of that date; 'none' without a purchase), else of the shop ('*').
-- Outputs: every crm.due_steps column plus timezone, email, phone, email_consent, push_consent,
--          sms_consent, has_push_token (customers unknown to crm.customers come with NULLs), best_hour (the
--          customer's best local hour, NULL for default steps or before any hours are learned) and
--          best_hour_source ('customer', 'segment' or 'shop').
-- Parameters: :run_key.
WITH latest AS (
    SELECT MAX(as_of) AS as_of FROM crm.send_hour_profiles
),

segment_best AS (
    SELECT
        p.segment,
        p.hour,
        ROW_NUMBER() OVER (PARTITION BY p.segment ORDER BY p.probability DESC, p.hour ASC) AS place
    FROM crm.send_hour_profiles AS p
    INNER JOIN latest AS l ON p.as_of = l.as_of
),

optimal AS (
    SELECT DISTINCT d.customer_id
    FROM crm.due_steps AS d
    WHERE d.run_key = :run_key AND d.send_time = 'optimal'
),

best AS (
    SELECT
        o.customer_id,
        CASE
            WHEN h.best_hour IS NOT NULL THEN h.best_hour
            WHEN g.hour IS NOT NULL THEN g.hour
            ELSE s.hour
        END AS best_hour,
        CASE
            WHEN h.best_hour IS NOT NULL THEN 'customer'
            WHEN g.hour IS NOT NULL THEN 'segment'
            WHEN s.hour IS NOT NULL THEN 'shop'
        END AS best_hour_source
    FROM optimal AS o
    CROSS JOIN latest AS l
    LEFT JOIN crm.customer_send_hours AS h ON l.as_of = h.as_of AND o.customer_id = h.customer_id
    LEFT JOIN crm.customer_scores AS sc ON l.as_of = sc.as_of AND o.customer_id = sc.customer_id
    LEFT JOIN segment_best AS g ON COALESCE(sc.rfm_code, 'none') = g.segment AND g.place = 1
    LEFT JOIN segment_best AS s ON s.segment = '*' AND s.place = 1
)

SELECT
    d.*,
    c.timezone,
    c.email,
    c.phone,
    c.email_consent,
    c.push_consent,
    c.sms_consent,
    b.best_hour_source,
    EXISTS(
        SELECT 1 FROM crm.push_tokens AS t
        WHERE t.customer_id = d.customer_id AND t.is_active
    ) AS has_push_token,
    CASE WHEN d.send_time = 'optimal' THEN b.best_hour END AS best_hour
FROM crm.due_steps AS d
LEFT JOIN crm.customers AS c ON d.customer_id = c.customer_id
LEFT JOIN best AS b ON d.customer_id = b.customer_id
WHERE d.run_key = :run_key
