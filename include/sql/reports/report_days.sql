-- The range of days the report tables cover and the latest report run, to choose a default period.
-- Inputs: crm.report_chain_daily, crm.report_holdout_daily, crm.report_runs.
-- Outputs: first_day, last_day, report_date. Parameters: none.
SELECT
    LEAST(
        (SELECT MIN(d.sent_day) FROM crm.report_chain_daily AS d),
        (SELECT MIN(h.entry_day) FROM crm.report_holdout_daily AS h)
    ) AS first_day,
    GREATEST(
        (SELECT MAX(d.sent_day) FROM crm.report_chain_daily AS d),
        (SELECT MAX(h.entry_day) FROM crm.report_holdout_daily AS h)
    ) AS last_day,
    (SELECT MAX(r.report_date) FROM crm.report_runs AS r) AS report_date
