-- Move the watermark of each of the run's chains forward to the run's as-of time (never backwards:
-- re-running an old run is safe).
-- Inputs: crm.chain_run_members. Output: crm.chain_watermarks. Parameters: :run_key, :now.
INSERT INTO crm.chain_watermarks (chain_id, processed_through, updated_at)
SELECT
    m.chain_id,
    m.as_of AS processed_through,
    :now AS updated_at
FROM crm.chain_run_members AS m
WHERE m.run_key = :run_key
ON CONFLICT (chain_id) DO UPDATE SET
    processed_through = GREATEST(crm.chain_watermarks.processed_through, excluded.processed_through),
    updated_at = excluded.updated_at;
