-- Every model of a name, newest first, without artefacts: the registry as analysts read it.
-- Inputs: crm.model_registry.
-- Outputs: version, status, trained_at, train_from, train_to, validation_as_of, auc, brier, metrics,
--   decision, incumbent_version.
-- Parameters: :model_name.
SELECT
    version,
    status,
    trained_at,
    train_from,
    train_to,
    validation_as_of,
    auc,
    brier,
    metrics,
    decision,
    incumbent_version
FROM crm.model_registry
WHERE model_name = :model_name
ORDER BY version DESC
