-- One scoring run: its date, customers, model versions and RFM cut points.
-- Inputs: crm.score_runs. Outputs: as_of, customers, churn_model_version, ltv_model_version, rfm_method,
-- rfm_cuts, seconds, scored_at. Parameters: :run_key.
SELECT
    as_of,
    customers,
    churn_model_version,
    ltv_model_version,
    rfm_method,
    rfm_cuts,
    seconds,
    scored_at
FROM crm.score_runs
WHERE run_key = :run_key
ORDER BY as_of DESC
