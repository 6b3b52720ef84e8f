-- Treated and holdout entrants per chain over a period of entry days, with the sum and sum of squares of
-- their revenue: enough for the Welch interval of the difference in revenue per entrant.
-- Inputs: crm.report_holdout_daily. Outputs: chain_id, arm, entrants, buyers, messaged, revenue, revenue_sq.
-- Parameters: :since_day, :until_day (dates; until exclusive).
SELECT
    chain_id,
    arm,
    SUM(entrants) AS entrants,
    SUM(buyers) AS buyers,
    SUM(messaged) AS messaged,
    SUM(revenue) AS revenue,
    SUM(revenue_sq) AS revenue_sq
FROM crm.report_holdout_daily
WHERE entry_day >= :since_day AND entry_day < :until_day
GROUP BY chain_id, arm
ORDER BY chain_id, arm
