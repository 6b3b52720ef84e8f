-- Record a report run for its date (a re-run replaces the row).
-- Inputs: none. Outputs: crm.report_runs. Parameters: :report_date, :run_key, :recomputed_from, :now.
DELETE FROM crm.report_runs
WHERE report_date = :report_date;

INSERT INTO crm.report_runs (report_date, run_key, recomputed_from, finished_at)
VALUES (:report_date, :run_key, :recomputed_from, :now);
