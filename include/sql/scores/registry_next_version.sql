-- The version number the next model of a name gets (1 for the first).
-- Inputs: crm.model_registry. Outputs: next_version. Parameters: :model_name.
SELECT COALESCE(MAX(version), 0) + 1 AS next_version
FROM crm.model_registry
WHERE model_name = :model_name
