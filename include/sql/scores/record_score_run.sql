-- Record one scoring run (a re-run of the same run key replaces its row; the caller deletes it first).
-- Inputs: none. Outputs: a row in crm.score_runs.
-- Parameters: :as_of, :run_key, :customers, :churn_model_version, :ltv_model_version, :rfm_method,
--   :rfm_cuts (JSON text), :seconds, :scored_at, :unscored_from (orders placed or loaded from then on
--   may be missing from the scores).
INSERT INTO crm.score_runs (
    as_of, run_key, customers, churn_model_version, ltv_model_version, rfm_method, rfm_cuts, seconds,
    scored_at, unscored_from
)
VALUES (
    :as_of, :run_key, :customers, :churn_model_version, :ltv_model_version, :rfm_method, :rfm_cuts, :seconds,
    :scored_at, :unscored_from
)
