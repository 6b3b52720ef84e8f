-- Empty the scratch table of entry candidates for a chain before its entry query's rows are staged.
-- Inputs: none. Output: crm.chain_candidates (the chain's rows deleted). Parameters: :chain_id.
DELETE FROM crm.chain_candidates
WHERE chain_id = :chain_id;
