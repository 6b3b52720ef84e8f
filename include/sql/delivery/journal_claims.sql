-- DuckDB: the claims whose hand-over journal was not applied (a killed dispatch's), oldest first.
-- inputs: crm.send_handovers
SELECT claim_token
FROM crm.send_handovers
GROUP BY claim_token
ORDER BY MIN(handed_at), claim_token;
