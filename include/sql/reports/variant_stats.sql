-- Sends, conversions and last-touch revenue per chain, step and variant over a period of send days: the input
-- of the A/B results (probability that each variant is best) and of the bandit weights.
-- Inputs: crm.report_chain_daily. Outputs: chain_id, step_id, variant, sent, converted, revenue_last_touch.
-- Parameters: :since_day, :until_day (dates; until exclusive).
SELECT
    chain_id,
    step_id,
    variant,
    SUM(sent) AS sent,
    SUM(converted) AS converted,
    SUM(revenue_last_touch) AS revenue_last_touch
FROM crm.report_chain_daily
WHERE sent_day >= :since_day AND sent_day < :until_day
GROUP BY chain_id, step_id, variant
ORDER BY chain_id, step_id, variant
