-- Every chain entry of the period with the purchase revenue of its customer over the chain's outcome
-- horizon after entry (crm.report_chain_windows.horizon_days, else :default_horizon_days), treated or not,
-- counting the orders placed strictly after the entry (a purchase-triggered chain enters the customer at the
-- moment of the order that triggered it: that order is the cause of the entry, not its outcome),
-- and whether the entry was sent at least one message (messaged 1/0): the input of the holdout comparison,
-- whose arms are assigned in Python by the policy's deterministic hash.
-- Inputs: crm.chain_instances, crm.orders, crm.ref_order_statuses, crm.report_chain_windows, crm.send_ledger.
-- Outputs: chain_id, customer_id, entry_day, revenue, messaged.
-- Parameters: :since, :until, :default_horizon_days.
WITH entries AS (
    SELECT
        i.instance_id,
        i.chain_id,
        i.customer_id,
        i.entered_at,
        i.entered_at + COALESCE(w.horizon_days, :default_horizon_days) * INTERVAL '1 day' AS horizon_end
    FROM crm.chain_instances AS i
    LEFT JOIN crm.report_chain_windows AS w ON i.chain_id = w.chain_id
    WHERE i.entered_at >= :since AND i.entered_at < :until
),

purchases AS (
    SELECT
        o.customer_id,
        o.ordered_at,
        o.total_amount
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status AND st.counts_as_purchase
    WHERE o.customer_id IN (SELECT e.customer_id FROM entries AS e)
),

messaged AS (
    SELECT DISTINCT l.instance_id
    FROM crm.send_ledger AS l
    WHERE l.state = 'sent' AND l.instance_id IN (SELECT e.instance_id FROM entries AS e)
)

SELECT
    e.chain_id,
    e.customer_id,
    CAST(e.entered_at AS DATE) AS entry_day,
    COALESCE(SUM(p.total_amount), 0) AS revenue,
    MAX(CASE WHEN m.instance_id IS NULL THEN 0 ELSE 1 END) AS messaged
FROM entries AS e
LEFT JOIN purchases AS p
    ON e.customer_id = p.customer_id AND e.entered_at < p.ordered_at AND e.horizon_end > p.ordered_at
LEFT JOIN messaged AS m ON e.instance_id = m.instance_id
GROUP BY e.instance_id, e.chain_id, e.customer_id, e.entered_at
ORDER BY e.chain_id, e.customer_id, entry_day
