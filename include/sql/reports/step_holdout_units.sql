-- Every customer a step with its own holdout would have gone to in the period, per arm ('treated': the
-- step was planned; 'holdout': kept from it), with their purchases over the window after that moment and,
-- for the treated, what the message cost: the input of the step lift (lifecycle.reports.step_lift).
-- A step held and decided again in a later run counts once, at its final decision.
-- Inputs: crm.decisions (step_arm), crm.send_ledger, crm.orders, crm.ref_order_statuses.
-- Outputs: chain_id, step_id, channel, arm, customer_id, decided_at, orders, revenue, sent, delivered, cost.
-- Parameters: :since_day, :until_day (decision days; until exclusive), :window_days (purchases within this
--   many days after the decision count).
WITH units AS (
    SELECT
        d.chain_id,
        d.step_id,
        d.channel,
        d.step_arm AS arm,
        d.instance_id,
        d.customer_id,
        d.send_key,
        d.decided_at,
        ROW_NUMBER() OVER (
            PARTITION BY d.instance_id, d.step_id, d.channel ORDER BY d.decided_at DESC, d.run_key DESC
        ) AS newest
    FROM crm.decisions AS d
    WHERE
        d.step_arm IS NOT NULL
        AND d.decided_at >= :since_day
        AND d.decided_at < :until_day
),

purchases AS (
    SELECT
        o.customer_id,
        o.ordered_at,
        o.total_amount
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status AND st.counts_as_purchase
    WHERE o.customer_id IN (
        SELECT u.customer_id FROM units AS u
        WHERE u.newest = 1
    )
),

bought AS (
    SELECT
        u.instance_id,
        u.step_id,
        u.channel,
        COUNT(p.ordered_at) AS orders,
        COALESCE(SUM(p.total_amount), 0) AS revenue
    FROM units AS u
    LEFT JOIN purchases AS p
        ON
            u.customer_id = p.customer_id
            AND u.decided_at < p.ordered_at
            AND p.ordered_at <= u.decided_at + :window_days * INTERVAL '1 day'
    WHERE u.newest = 1
    GROUP BY u.instance_id, u.step_id, u.channel
)

SELECT
    u.chain_id,
    u.step_id,
    u.channel,
    u.arm,
    u.customer_id,
    u.decided_at,
    b.orders,
    b.revenue,
    CASE WHEN l.state = 'sent' THEN 1 ELSE 0 END AS sent,
    CASE WHEN l.delivery_status = 'delivered' THEN 1 ELSE 0 END AS delivered,
    COALESCE(l.cost, 0) AS cost
FROM units AS u
INNER JOIN bought AS b ON u.instance_id = b.instance_id AND u.step_id = b.step_id AND u.channel = b.channel
LEFT JOIN crm.send_ledger AS l ON u.send_key = l.send_key
WHERE u.newest = 1
ORDER BY u.chain_id, u.step_id, u.arm, u.customer_id, u.decided_at
