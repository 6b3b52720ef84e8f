-- Per chain of the run with active instances, the earliest entry among them: the constant lower time bound
-- the exit checks give their reads of crm.events and crm.orders. A chain missing here has no exit to check
-- and no step due.
-- Inputs: crm.chain_run_members, crm.chain_instances.
-- Output: chain_id, active_since. Parameters: :run_key.
SELECT
    i.chain_id,
    MIN(i.entered_at) AS active_since
FROM crm.chain_instances AS i
INNER JOIN crm.chain_run_members AS m ON i.chain_id = m.chain_id AND m.run_key = :run_key
WHERE i.status = 'active'
GROUP BY i.chain_id;
