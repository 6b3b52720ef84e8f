-- The instances a chain preview admitted (inside its rolled-back transaction): who would enter, earliest
-- trigger first.
-- Inputs: crm.chain_instances. Output: instance_id, customer_id, trigger_key, triggered_at, branch,
--   trigger_value. Parameters: :chain_id, :run_key (the preview's own run key).
SELECT
    instance_id,
    customer_id,
    trigger_key,
    triggered_at,
    branch,
    trigger_value
FROM crm.chain_instances
WHERE chain_id = :chain_id AND entered_run_key = :run_key
ORDER BY triggered_at, customer_id, instance_id;
