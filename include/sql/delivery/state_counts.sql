-- Ledger rows per channel and state: the dispatch summary.
-- inputs: crm.send_ledger; outputs: one row per (channel, state)
-- params: none
SELECT
    channel,
    state,
    COUNT(*) AS messages
FROM crm.send_ledger
GROUP BY channel, state
ORDER BY channel, state;
