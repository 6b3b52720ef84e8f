-- Retire the current model of a name when a newer one is promoted (same transaction as the insert).
-- Inputs/outputs: crm.model_registry. Parameters: :model_name, :retired_at.
UPDATE crm.model_registry
SET status = 'retired', retired_at = :retired_at
WHERE model_name = :model_name AND status = 'current'
