-- Forget a chain's configured steps before the engine writes them again from its YAML file.
-- Inputs: none. Output: crm.chain_steps (the chain's rows deleted). Parameters: :chain_id.
DELETE FROM crm.chain_steps
WHERE chain_id = :chain_id;
