-- Record that a chain failed in a run (replacing what an earlier attempt of the same run recorded).
-- Inputs: none. Output: crm.chain_run_failures (one row for the run and chain).
-- Parameters: :run_key, :chain_id, :phase (enter, exit or due), :error, :now.
DELETE FROM crm.chain_run_failures
WHERE run_key = :run_key AND chain_id = :chain_id;

INSERT INTO crm.chain_run_failures (run_key, chain_id, phase, error, failed_at)
VALUES (:run_key, :chain_id, :phase, :error, :now);
