-- Attribute each purchase order of the period to the sent messages before it: an order counts for a message
-- when it follows the send within the message's chain window (crm.report_chain_windows, else
-- :default_window_days). Among a customer's qualifying messages (all chains) the latest gets the order under
-- last_touch and the earliest under first_touch. Re-running a period replaces its rows.
-- Inputs: crm.orders, crm.ref_order_statuses, crm.send_ledger, crm.report_chain_windows.
-- Outputs: crm.report_attributed_orders (orders with ordered_at in [:since, :until)).
-- Parameters: :since, :until (timestamps), :default_window_days.
DELETE FROM crm.report_attributed_orders
WHERE ordered_at >= :since AND ordered_at < :until;

INSERT INTO crm.report_attributed_orders (
    model, order_id, customer_id, ordered_at, revenue, send_key, chain_id, step_id, variant, channel, sent_at
)
WITH purchases AS (
    SELECT
        o.order_id,
        o.customer_id,
        o.ordered_at,
        o.total_amount
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status AND st.counts_as_purchase
    WHERE o.ordered_at >= :since AND o.ordered_at < :until
),

touches AS (
    SELECT
        p.order_id,
        p.customer_id,
        p.ordered_at,
        p.total_amount,
        l.send_key,
        l.chain_id,
        l.step_id,
        l.variant,
        l.channel,
        l.sent_at,
        ROW_NUMBER() OVER (PARTITION BY p.order_id ORDER BY l.sent_at DESC, l.send_key DESC) AS last_rank,
        ROW_NUMBER() OVER (PARTITION BY p.order_id ORDER BY l.sent_at ASC, l.send_key ASC) AS first_rank
    FROM purchases AS p
    INNER JOIN crm.send_ledger AS l
        ON p.customer_id = l.customer_id AND l.state = 'sent' AND p.ordered_at >= l.sent_at
    LEFT JOIN crm.report_chain_windows AS w ON l.chain_id = w.chain_id
    WHERE p.ordered_at < l.sent_at + COALESCE(w.window_days, :default_window_days) * INTERVAL '1 day'
)

SELECT
    'last_touch' AS model,
    order_id,
    customer_id,
    ordered_at,
    total_amount AS revenue,
    send_key,
    chain_id,
    step_id,
    variant,
    channel,
    sent_at
FROM touches
WHERE last_rank = 1
UNION ALL
SELECT
    'first_touch' AS model,
    order_id,
    customer_id,
    ordered_at,
    total_amount AS revenue,
    send_key,
    chain_id,
    step_id,
    variant,
    channel,
    sent_at
FROM touches
WHERE first_rank = 1;
