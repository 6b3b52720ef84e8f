-- Validation figures of the churn and LTV model versions a scoring run used.
-- Inputs: crm.model_registry. Outputs: model_name, version, trained_at, auc, brier, status.
-- Parameters: :churn_version, :ltv_version.
SELECT
    model_name,
    version,
    trained_at,
    auc,
    brier,
    status
FROM crm.model_registry
WHERE
    (model_name = 'churn' AND version = :churn_version)
    OR (model_name = 'ltv' AND version = :ltv_version)
ORDER BY model_name
