-- The newest model of one name and horizon that was ever promoted (current or retired), with its artefact:
-- what a candidate of a changed horizon is compared with. No row when that horizon never had a model.
-- Inputs: crm.model_registry.
-- Outputs: the columns of registry_current.sql.
-- Parameters: :model_name ('churn' or 'ltv'), :horizon_days.
SELECT
    model_name,
    version,
    trained_at,
    train_from,
    train_to,
    validation_as_of,
    horizon_days,
    features,
    settings,
    metrics,
    artefact
FROM crm.model_registry
WHERE model_name = :model_name AND horizon_days = :horizon_days AND status IN ('current', 'retired')
ORDER BY version DESC
LIMIT 1
