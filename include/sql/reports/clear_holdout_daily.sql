-- Remove the holdout figures of the entry days about to be recomputed.
-- Inputs: none. Outputs: crm.report_holdout_daily (days in [:since, :until) deleted).
-- Parameters: :since, :until (timestamps at midnight).
DELETE FROM crm.report_holdout_daily
WHERE entry_day >= CAST(:since AS DATE) AND entry_day < CAST(:until AS DATE)
