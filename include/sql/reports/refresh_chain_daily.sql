-- Per send day, chain, step, channel, provider and variant: the messages by ledger state, their provider
-- feedback (a message counts once per kind of event), the sends followed by a purchase within the chain
-- window (converted, the bandit's definition) and the orders and revenue attributed to them by last and first
-- touch. The day of a message is the day it was sent, or planned if it never was. Re-running replaces the
-- days.
-- Inputs: crm.send_ledger, crm.message_events, crm.orders, crm.ref_order_statuses, crm.report_chain_windows,
--         crm.report_attributed_orders.
-- Outputs: crm.report_chain_daily (days in [:since, :until)).
-- Parameters: :since, :until (timestamps at midnight), :default_window_days.
DELETE FROM crm.report_chain_daily
WHERE sent_day >= CAST(:since AS DATE) AND sent_day < CAST(:until AS DATE);

INSERT INTO crm.report_chain_daily (
    sent_day, chain_id, step_id, channel, provider, variant, messages, sent, failed, unknown, expired,
    delivered, opened, clicked, unsubscribed, bounced, complained, converted, orders_last_touch,
    revenue_last_touch, orders_first_touch, revenue_first_touch
)
WITH messages AS (
    SELECT
        l.send_key,
        l.chain_id,
        l.step_id,
        l.channel,
        l.variant,
        l.state,
        l.customer_id,
        l.sent_at,
        COALESCE(l.provider, '') AS provider,
        CAST(COALESCE(l.sent_at, l.planned_at) AS DATE) AS sent_day
    FROM crm.send_ledger AS l
    WHERE COALESCE(l.sent_at, l.planned_at) >= :since AND COALESCE(l.sent_at, l.planned_at) < :until
),

feedback AS (
    SELECT
        e.send_key,
        MAX(CASE WHEN e.event_type = 'delivered' THEN 1 ELSE 0 END) AS delivered,
        MAX(CASE WHEN e.event_type = 'open' THEN 1 ELSE 0 END) AS opened,
        MAX(CASE WHEN e.event_type = 'click' THEN 1 ELSE 0 END) AS clicked,
        MAX(CASE WHEN e.event_type = 'unsubscribe' THEN 1 ELSE 0 END) AS unsubscribed,
        MAX(CASE WHEN e.event_type = 'bounce' THEN 1 ELSE 0 END) AS bounced,
        MAX(CASE WHEN e.event_type = 'complaint' THEN 1 ELSE 0 END) AS complained
    FROM crm.message_events AS e
    INNER JOIN messages AS m ON e.send_key = m.send_key
    GROUP BY e.send_key
),

converted AS (
    SELECT DISTINCT m.send_key
    FROM messages AS m
    INNER JOIN crm.orders AS o ON m.customer_id = o.customer_id AND m.sent_at <= o.ordered_at
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status AND st.counts_as_purchase
    LEFT JOIN crm.report_chain_windows AS w ON m.chain_id = w.chain_id
    WHERE
        m.state = 'sent'
        AND o.ordered_at < m.sent_at + COALESCE(w.window_days, :default_window_days) * INTERVAL '1 day'
),

attributed AS (
    SELECT
        a.send_key,
        SUM(CASE WHEN a.model = 'last_touch' THEN 1 ELSE 0 END) AS orders_last_touch,
        SUM(CASE WHEN a.model = 'last_touch' THEN a.revenue ELSE 0 END) AS revenue_last_touch,
        SUM(CASE WHEN a.model = 'first_touch' THEN 1 ELSE 0 END) AS orders_first_touch,
        SUM(CASE WHEN a.model = 'first_touch' THEN a.revenue ELSE 0 END) AS revenue_first_touch
    FROM crm.report_attributed_orders AS a
    INNER JOIN messages AS m ON a.send_key = m.send_key
    GROUP BY a.send_key
)

SELECT
    m.sent_day,
    m.chain_id,
    m.step_id,
    m.channel,
    m.provider,
    m.variant,
    COUNT(*) AS messages,
    SUM(CASE WHEN m.state = 'sent' THEN 1 ELSE 0 END) AS sent,
    SUM(CASE WHEN m.state = 'failed' THEN 1 ELSE 0 END) AS failed,
    SUM(CASE WHEN m.state = 'unknown' THEN 1 ELSE 0 END) AS unknown,
    SUM(CASE WHEN m.state = 'expired' THEN 1 ELSE 0 END) AS expired,
    SUM(COALESCE(f.delivered, 0)) AS delivered,
    SUM(COALESCE(f.opened, 0)) AS opened,
    SUM(COALESCE(f.clicked, 0)) AS clicked,
    SUM(COALESCE(f.unsubscribed, 0)) AS unsubscribed,
    SUM(COALESCE(f.bounced, 0)) AS bounced,
    SUM(COALESCE(f.complained, 0)) AS complained,
    COUNT(c.send_key) AS converted,
    SUM(COALESCE(a.orders_last_touch, 0)) AS orders_last_touch,
    SUM(COALESCE(a.revenue_last_touch, 0)) AS revenue_last_touch,
    SUM(COALESCE(a.orders_first_touch, 0)) AS orders_first_touch,
    SUM(COALESCE(a.revenue_first_touch, 0)) AS revenue_first_touch
FROM messages AS m
LEFT JOIN feedback AS f ON m.send_key = f.send_key
LEFT JOIN converted AS c ON m.send_key = c.send_key
LEFT JOIN attributed AS a ON m.send_key = a.send_key
GROUP BY m.sent_day, m.chain_id, m.step_id, m.channel, m.provider, m.variant;
