-- Migration crm/0034: the dispatch's hand-over journal (used on DuckDB by one-message providers; empty on
-- PostgreSQL).
--
-- crm.send_handovers   what each wave of such a dispatch commits: the send-time verdicts of the rows
--                      about to leave and the outcomes of the requests that returned, appended (one INSERT a
--                      wave, where an UPDATE of the ledger cost four times as much) in the columns of
--                      delivery/apply_wave.sql, each row with the moment its wave was checked (handed_at).
--                      A claim's rows are applied to crm.send_ledger and deleted together once its requests
--                      have returned (delivery/journaled.sql); what a killed dispatch left is applied by the
--                      next one before it recovers anything.
CREATE TABLE IF NOT EXISTS crm.send_handovers (
    handed_at TIMESTAMP NOT NULL,
    is_outcome BOOLEAN NOT NULL,
    claim_token VARCHAR NOT NULL,
    send_key VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    reason VARCHAR,
    send_after TIMESTAMP,
    recipient VARCHAR,
    provider_message_id VARCHAR,
    last_error VARCHAR,
    sent_at TIMESTAMP,
    segments INTEGER,
    cost DOUBLE PRECISION
);
