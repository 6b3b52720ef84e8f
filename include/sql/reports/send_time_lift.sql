-- Sent messages of send_time: optimal steps per chain and send-time arm ('optimal': timed to the customer's
-- best hour; 'default': the chain's send-time holdout, sent at once), with how many were opened, clicked and
-- followed by a purchase: the input of the send-time lift (optimal vs default rates with an interval).
-- Inputs: crm.send_ledger (send_time_arm, sent_at), crm.message_events, crm.orders,
--   crm.ref_order_statuses. Outputs: chain_id, arm, sent, opened, clicked, converted.
-- Parameters: :since_day, :until_day (send days; until exclusive), :attribution_days (a purchase within this
--   many days after the send converts it).
WITH sent AS (
    SELECT
        send_key,
        chain_id,
        customer_id,
        sent_at,
        send_time_arm AS arm
    FROM crm.send_ledger
    WHERE
        send_time_arm IS NOT NULL
        AND state = 'sent'
        AND sent_at >= :since_day
        AND sent_at < :until_day
),

responses AS (
    SELECT
        e.send_key,
        MAX(CASE WHEN e.event_type IN ('open', 'click') THEN 1 ELSE 0 END) AS opened,
        MAX(CASE WHEN e.event_type = 'click' THEN 1 ELSE 0 END) AS clicked
    FROM crm.message_events AS e
    INNER JOIN sent AS s ON e.send_key = s.send_key
    GROUP BY e.send_key
),

conversions AS (
    SELECT DISTINCT s.send_key
    FROM sent AS s
    INNER JOIN crm.orders AS o
        ON
            s.customer_id = o.customer_id
            AND s.sent_at < o.ordered_at
            AND o.ordered_at <= s.sent_at + :attribution_days * INTERVAL '1 day'
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    WHERE st.counts_as_purchase
)

SELECT
    s.chain_id,
    s.arm,
    COUNT(*) AS sent,
    SUM(COALESCE(r.opened, 0)) AS opened,
    SUM(COALESCE(r.clicked, 0)) AS clicked,
    SUM(CASE WHEN c.send_key IS NOT NULL THEN 1 ELSE 0 END) AS converted
FROM sent AS s
LEFT JOIN responses AS r ON s.send_key = r.send_key
LEFT JOIN conversions AS c ON s.send_key = c.send_key
GROUP BY s.chain_id, s.arm
ORDER BY s.chain_id, s.arm
