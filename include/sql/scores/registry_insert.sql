-- Record one trained model with its validation figures, artefact and promotion decision.
-- Inputs: none. Outputs: a row in crm.model_registry.
-- Parameters: :model_name, :version, :trained_at, :train_from, :train_to, :validation_as_of, :horizon_days,
--   :features, :settings, :metrics, :incumbent_metrics (JSON text), :auc, :brier (NULL for LTV), :artefact
--   (bytes), :status ('current' or 'rejected'), :decision (text with the figures), :incumbent_version,
--   :decided_at.
INSERT INTO crm.model_registry (
    model_name, version, trained_at, train_from, train_to, validation_as_of, horizon_days, features,
    settings, auc, brier, metrics, artefact, status, decision, incumbent_version, incumbent_metrics,
    decided_at
)
VALUES (
    :model_name, :version, :trained_at, :train_from, :train_to, :validation_as_of, :horizon_days, :features,
    :settings, :auc, :brier, :metrics, :artefact, :status, :decision, :incumbent_version, :incumbent_metrics,
    :decided_at
)
