-- Sends and conversions per variant of the bandit-driven steps in a run: a send converts when the customer
-- orders within the attribution window after it.
-- Inputs: crm.send_ledger, crm.orders, crm.ref_order_statuses, crm.due_steps.
-- Outputs: chain_id, step_id, variant, sends, conversions. Parameters: :run_key, :attribution_days.
WITH bandit_steps AS (
    SELECT DISTINCT
        chain_id,
        step_id
    FROM crm.due_steps
    WHERE run_key = :run_key AND use_bandit
),

sends AS (
    SELECT
        l.send_key,
        l.chain_id,
        l.step_id,
        l.variant,
        l.customer_id,
        l.sent_at
    FROM crm.send_ledger AS l
    INNER JOIN bandit_steps AS b ON l.chain_id = b.chain_id AND l.step_id = b.step_id
    WHERE l.state = 'sent'
),

converted AS (
    SELECT DISTINCT s.send_key
    FROM sends AS s
    INNER JOIN crm.orders AS o ON s.customer_id = o.customer_id
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status AND st.counts_as_purchase
    WHERE o.ordered_at >= s.sent_at AND o.ordered_at < s.sent_at + :attribution_days * INTERVAL '1 day'
)

SELECT
    s.chain_id,
    s.step_id,
    s.variant,
    COUNT(*) AS sends,
    COUNT(c.send_key) AS conversions
FROM sends AS s
LEFT JOIN converted AS c ON s.send_key = c.send_key
GROUP BY s.chain_id, s.step_id, s.variant
ORDER BY s.chain_id, s.step_id, s.variant
