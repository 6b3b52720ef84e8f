-- Per chain: its configured uplift (the mean over its variants), its messages' sends, deliveries, opens,
-- clicks and unsubscribes, and the orders they added or prevented and their revenue, counting orders placed
-- up to the simulation's end: the true incremental orders and revenue the reports estimate.
-- Inputs: sim.truth_uplift, sim.truth_messages.
-- Outputs: sim.truth_chain (replaced).
-- Parameters: :end_at (the simulation's end).
DROP TABLE IF EXISTS sim.truth_chain;

CREATE TABLE sim.truth_chain AS
WITH configured AS (
    SELECT
        chain_id,
        AVG(uplift) AS uplift
    FROM sim.truth_uplift
    GROUP BY chain_id
),

messages AS (
    SELECT
        chain_id,
        COUNT(*) AS sends,
        SUM(CASE WHEN delivered THEN 1 ELSE 0 END) AS delivered,
        SUM(CASE WHEN opened THEN 1 ELSE 0 END) AS opened,
        SUM(CASE WHEN clicked THEN 1 ELSE 0 END) AS clicked,
        SUM(CASE WHEN unsubscribed THEN 1 ELSE 0 END) AS unsubscribed,
        SUM(CASE WHEN effect > 0 AND ordered_at <= :end_at THEN 1 ELSE 0 END) AS induced_orders,
        SUM(CASE WHEN effect < 0 AND ordered_at <= :end_at THEN 1 ELSE 0 END) AS prevented_orders,
        SUM(CASE WHEN ordered_at <= :end_at THEN revenue ELSE 0 END) AS incremental_revenue
    FROM sim.truth_messages
    GROUP BY chain_id
)

SELECT
    u.chain_id,
    u.uplift,
    COALESCE(m.sends, 0) AS sends,
    COALESCE(m.delivered, 0) AS delivered,
    COALESCE(m.opened, 0) AS opened,
    COALESCE(m.clicked, 0) AS clicked,
    COALESCE(m.unsubscribed, 0) AS unsubscribed,
    COALESCE(m.induced_orders, 0) AS induced_orders,
    COALESCE(m.prevented_orders, 0) AS prevented_orders,
    COALESCE(m.induced_orders, 0) - COALESCE(m.prevented_orders, 0) AS incremental_orders,
    COALESCE(m.incremental_revenue, 0) AS incremental_revenue
FROM configured AS u
LEFT JOIN messages AS m ON u.chain_id = m.chain_id
ORDER BY u.chain_id;
