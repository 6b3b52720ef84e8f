-- The earliest entry among a chain's active instances (NULL when it has none): the constant lower time
-- bound the exit checks give their reads of crm.events and crm.orders; NULL: no exit to check, no step due.
-- Inputs: crm.chain_instances.
-- Output: one row, active_since.
-- Parameters: :chain_id.
SELECT MIN(entered_at) AS active_since
FROM crm.chain_instances
WHERE chain_id = :chain_id AND status = 'active';
