-- How many other runs have already scored a date: the daily DAG scores each date once, however many ingest
-- runs trigger it, while a retry of the same run scores again.
-- Inputs: crm.score_runs. Outputs: runs. Parameters: :as_of, :run_key.
SELECT COUNT(*) AS runs
FROM crm.score_runs
WHERE as_of = :as_of AND run_key <> :run_key
