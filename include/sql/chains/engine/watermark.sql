-- The trigger time up to which each chain has looked for new entries (a chain with no row never ran).
-- Inputs: crm.chain_watermarks. Output: chain_id, processed_through. Parameters: none.
SELECT
    chain_id,
    processed_through
FROM crm.chain_watermarks;
