-- Messages a chains run planned, by channel, provider and current ledger state.
-- Inputs: crm.send_ledger. Outputs: channel, provider, state, messages. Parameters: :run_key.
SELECT
    channel,
    COALESCE(provider, '') AS provider,
    state,
    COUNT(*) AS messages
FROM crm.send_ledger
WHERE run_key = :run_key
GROUP BY channel, COALESCE(provider, ''), state
ORDER BY channel, provider, state
