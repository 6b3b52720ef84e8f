-- The current (promoted) model of one name, with its artefact, or no row when none was promoted yet.
-- Inputs: crm.model_registry.
-- Outputs: model_name, version, trained_at, train_from, train_to, validation_as_of, horizon_days, features,
--   settings, metrics (JSON text), artefact (bytes).
-- Parameters: :model_name ('churn' or 'ltv').
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
WHERE model_name = :model_name AND status = 'current'
ORDER BY version DESC
LIMIT 1
