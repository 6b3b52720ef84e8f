-- Remove the RFM distribution of a scored date and the migration matrix of a pair of dates before they are
-- written again.
-- Inputs: none. Outputs: crm.report_rfm_distribution, crm.report_rfm_migration (rows deleted).
-- Parameters: :from_date, :to_date.
DELETE FROM crm.report_rfm_distribution
WHERE as_of = :to_date;

DELETE FROM crm.report_rfm_migration
WHERE from_date = :from_date AND to_date = :to_date;
