-- The run key of the latest chains run (the one with the latest as-of time), for the demo's report.
-- Inputs: crm.chain_runs. Outputs: run_key. Parameters: none.
SELECT run_key
FROM crm.chain_runs
ORDER BY as_of DESC, run_key DESC
LIMIT 1
