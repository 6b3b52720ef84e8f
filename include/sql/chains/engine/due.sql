-- Steps of the active instances of the run's chains that are due and not done yet, in step order.
-- A step is due when entered_at + its delay <= :as_of; it is done when the policy planned or suppressed it,
-- or a segment override skipped it, in another run (a 'held' decision is not final: the step is due again).
-- Inputs: crm.chain_run_members, crm.chain_instances, crm.chain_steps, crm.chain_step_outcomes,
--   crm.customer_state, crm.customer_scores (the newest scores on or before the as-of date).
-- Output: chain_id, instance_id, customer_id, trigger_key, context, step_no, step_id, due_at, rfm_code,
--   expected_value (the trigger's value, e.g. the cart total or the product price; else the customer's
--   average check; else the chain's typical order value).
-- Parameters: :as_of, :run_key.
SELECT
    i.chain_id,
    i.instance_id,
    i.customer_id,
    i.trigger_key,
    i.context,
    s.step_no,
    s.step_id,
    i.entered_at + s.delay_s * INTERVAL '1 second' AS due_at,
    sc.rfm_code,
    COALESCE(i.trigger_value, cs.avg_check, m.typical_order_value) AS expected_value
FROM crm.chain_instances AS i
INNER JOIN crm.chain_run_members AS m ON i.chain_id = m.chain_id AND m.run_key = :run_key
INNER JOIN crm.chain_steps AS s
    ON i.chain_id = s.chain_id AND (s.branch IS NULL OR i.branch = s.branch)
LEFT JOIN crm.customer_state AS cs ON i.customer_id = cs.customer_id
LEFT JOIN crm.customer_scores AS sc
    ON
        i.customer_id = sc.customer_id
        AND sc.as_of = (
            SELECT MAX(l.as_of) FROM crm.customer_scores AS l
            WHERE l.as_of <= CAST(:as_of AS DATE)
        )
WHERE
    i.status = 'active'
    AND i.entered_at + s.delay_s * INTERVAL '1 second' <= :as_of
    AND NOT EXISTS (
        SELECT 1
        FROM crm.chain_step_outcomes AS o
        WHERE
            o.instance_id = i.instance_id
            AND o.step_id = s.step_id
            AND o.run_key <> :run_key
    )
ORDER BY i.chain_id, i.instance_id, s.step_no;
