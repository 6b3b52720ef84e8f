-- Messages a chains run planned, by channel, provider and current ledger state, with the SMS segments and
-- their cost (in the provider's currency) and how many delivery reports said delivered.
-- Inputs: crm.send_ledger. Outputs: channel, provider, state, messages, segments, cost, delivered.
-- Parameters: :run_key.
SELECT
    channel,
    COALESCE(provider, '') AS provider,
    state,
    COUNT(*) AS messages,
    SUM(segments) AS segments,
    SUM(cost) AS cost,
    SUM(CASE WHEN delivery_status = 'delivered' THEN 1 ELSE 0 END) AS delivered
FROM crm.send_ledger
WHERE run_key = :run_key
GROUP BY channel, COALESCE(provider, ''), state
ORDER BY channel, provider, state
