-- The chains of a run that failed, and the chains that finished (their figures are in crm.chain_runs), so
-- a chain whose tasks never got as far as recording anything can be found too.
-- Inputs: crm.chain_run_failures, crm.chain_runs. Outputs: chain_id, phase, error, failed_at (NULL phase:
--   the chain finished). Parameters: :run_key.
SELECT
    f.chain_id,
    f.phase,
    f.error,
    f.failed_at
FROM crm.chain_run_failures AS f
WHERE f.run_key = :run_key
UNION ALL
SELECT
    r.chain_id,
    NULL AS phase,
    NULL AS error,
    r.finished_at AS failed_at
FROM crm.chain_runs AS r
WHERE r.run_key = :run_key
ORDER BY chain_id, phase NULLS LAST
