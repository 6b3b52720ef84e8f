-- Record one scoring run (a re-run of the same run key replaces its row; the caller deletes it first).
-- Inputs: none. Outputs: a row in crm.score_runs.
-- Parameters: :as_of, :run_key, :customers, :churn_model_version, :ltv_model_version, :rfm_method,
--   :rfm_cuts (JSON text), :seconds, :scored_at.
INSERT INTO crm.score_runs (
    as_of, run_key, customers, churn_model_version, ltv_model_version, rfm_method, rfm_cuts, seconds,
    scored_at
)
VALUES (
    :as_of, :run_key, :customers, :churn_model_version, :ltv_model_version, :rfm_method, :rfm_cuts, :seconds,
    :scored_at
)
