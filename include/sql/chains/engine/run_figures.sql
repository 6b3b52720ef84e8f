-- A chain's instance counts for one run: entered, exited and completed by this run key.
-- Inputs: crm.chain_instances. Output: entered, exited, completed. Parameters: :chain_id, :run_key.
SELECT
    COALESCE(SUM(CASE WHEN entered_run_key = :run_key THEN 1 ELSE 0 END), 0) AS entered,
    COALESCE(SUM(CASE WHEN exited_run_key = :run_key AND status = 'exited' THEN 1 ELSE 0 END), 0) AS exited,
    COALESCE(SUM(CASE WHEN exited_run_key = :run_key AND status = 'completed' THEN 1 ELSE 0 END), 0)
        AS completed
FROM crm.chain_instances
WHERE chain_id = :chain_id AND (entered_run_key = :run_key OR exited_run_key = :run_key);
