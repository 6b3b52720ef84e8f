-- The trigger time up to which a chain has looked for new entries (no row: the chain never ran).
-- Inputs: crm.chain_watermarks. Output: processed_through. Parameters: :chain_id.
SELECT processed_through
FROM crm.chain_watermarks
WHERE chain_id = :chain_id;
