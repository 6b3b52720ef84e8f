-- DuckDB: a claim's hand-over journal, once applied to the ledger (in the same transaction).
-- outputs: crm.send_handovers; params: :claim_token
DELETE FROM crm.send_handovers
WHERE claim_token = :claim_token;
