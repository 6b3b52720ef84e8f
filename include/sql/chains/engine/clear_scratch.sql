-- Empty the scratch tables at the end of a chains run: the staged entry rows of the run's chains and the
-- run's members. Nothing is left behind for the next run.
-- Inputs: crm.chain_run_members. Output: crm.chain_candidates, crm.chain_run_members (the run's rows
--   deleted). Parameters: :run_key.
DELETE FROM crm.chain_candidates
WHERE chain_id IN (
    SELECT m.chain_id FROM crm.chain_run_members AS m
    WHERE m.run_key = :run_key
);

DELETE FROM crm.chain_run_members
WHERE run_key = :run_key;
