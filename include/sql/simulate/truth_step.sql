-- Per chain, step and channel: the configured uplift, sends, deliveries, and the orders its messages added
-- or prevented and their revenue, counting the orders the pipeline saw by the end (added orders ingested
-- into crm.orders, prevented ones due by the simulation's end).
-- Inputs: sim.truth_messages, crm.orders.
-- Outputs: sim.truth_step (replaced).
-- Parameters: :end_at (the simulation's end).
DROP TABLE IF EXISTS sim.truth_step;

CREATE TABLE sim.truth_step AS
SELECT
    m.chain_id,
    m.step_id,
    m.channel,
    AVG(m.uplift) AS uplift,
    COUNT(*) AS sends,
    SUM(CASE WHEN m.delivered THEN 1 ELSE 0 END) AS delivered,
    SUM(CASE WHEN m.effect > 0 AND o.order_id IS NOT NULL THEN 1 ELSE 0 END) AS induced_orders,
    SUM(CASE WHEN m.effect < 0 AND m.ordered_at <= :end_at THEN 1 ELSE 0 END) AS prevented_orders,
    SUM(
        CASE
            WHEN m.effect > 0 AND o.order_id IS NOT NULL THEN m.revenue
            WHEN m.effect < 0 AND m.ordered_at <= :end_at THEN m.revenue
            ELSE 0
        END
    ) AS incremental_revenue
FROM sim.truth_messages AS m
LEFT JOIN crm.orders AS o ON m.effect > 0 AND m.order_id = o.order_id
GROUP BY m.chain_id, m.step_id, m.channel
ORDER BY m.chain_id, m.step_id, m.channel;
