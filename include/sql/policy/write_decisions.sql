-- Replace a run's decisions: clear the run's earlier rows (a re-run decides again, identically).
-- Inputs: none. Outputs: crm.decisions rows of :run_key deleted. Parameters: :run_key.
DELETE FROM crm.decisions
WHERE run_key = :run_key
