-- The latest report date recorded before a date (NULL when reports were never built): decides how far back
-- a report run recomputes.
-- Inputs: crm.report_runs. Outputs: report_date. Parameters: :report_date.
SELECT MAX(report_date) AS report_date
FROM crm.report_runs
WHERE report_date < :report_date
