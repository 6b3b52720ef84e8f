-- Remove the record of a scoring run before it is written again.
-- Inputs/outputs: crm.score_runs. Parameters: :as_of, :run_key.
DELETE FROM crm.score_runs
WHERE as_of = :as_of AND run_key = :run_key
