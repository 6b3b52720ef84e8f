-- Move a chain's watermark forward to the run's as-of time (never backwards: re-running an old run is safe).
-- Inputs: none. Output: crm.chain_watermarks. Parameters: :chain_id, :as_of, :now.
INSERT INTO crm.chain_watermarks (chain_id, processed_through, updated_at)
VALUES (:chain_id, :as_of, :now)
ON CONFLICT (chain_id) DO UPDATE SET
    processed_through = GREATEST(crm.chain_watermarks.processed_through, excluded.processed_through),
    updated_at = excluded.updated_at;
