-- Customers who left a chain in one chains run, per chain and exit reason.
-- Inputs: crm.chain_instances. Outputs: chain_id, exit_reason, customers. Parameters: :run_key.
SELECT
    chain_id,
    COALESCE(exit_reason, '') AS exit_reason,
    COUNT(*) AS customers
FROM crm.chain_instances
WHERE exited_run_key = :run_key AND status = 'exited'
GROUP BY chain_id, COALESCE(exit_reason, '')
ORDER BY chain_id, exit_reason
