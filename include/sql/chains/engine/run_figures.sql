-- Per chain of the run, its instance counts: entered, exited and completed by this run key.
-- Inputs: crm.chain_run_members, crm.chain_instances. Output: chain_id, entered, exited, completed (a chain
--   with none of them has no row). Parameters: :run_key.
SELECT
    i.chain_id,
    SUM(CASE WHEN i.entered_run_key = :run_key THEN 1 ELSE 0 END) AS entered,
    SUM(CASE WHEN i.exited_run_key = :run_key AND i.status = 'exited' THEN 1 ELSE 0 END) AS exited,
    SUM(CASE WHEN i.exited_run_key = :run_key AND i.status = 'completed' THEN 1 ELSE 0 END) AS completed
FROM crm.chain_instances AS i
INNER JOIN crm.chain_run_members AS m ON i.chain_id = m.chain_id AND m.run_key = :run_key
WHERE i.entered_run_key = :run_key OR i.exited_run_key = :run_key
GROUP BY i.chain_id;
