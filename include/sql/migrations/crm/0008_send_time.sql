-- Migration crm/0008: what the send-time re-check and the one-request loss window add to the ledger.
--
-- crm.send_ledger.attempted_at   set in the same commit that hands the row to the provider, just before the
--                                request leaves. A 'sending' row without it was claimed but never attempted:
--                                after a crash it goes back to 'planned'. With it, only that request's rows
--                                can be ambiguous.
-- crm.send_ledger.quiet_hours    the step's quiet-hours rule ('hold' or 'drop'), re-applied at send time.
-- crm.send_ledger.consent_scope  the chain's consent scope (scenario opt-outs), re-checked at send time.
-- crm.send_ledger.hold_reason    the reason code of the last send-time hold, or of a send-time drop
--                                (state 'dropped'): consent, suppression, quiet hours, caps, minimum gap.
-- crm.send_ledger.held_count     how often the send-time check held the row back.

ALTER TABLE crm.send_ledger ADD COLUMN IF NOT EXISTS attempted_at TIMESTAMP;
ALTER TABLE crm.send_ledger ADD COLUMN IF NOT EXISTS quiet_hours VARCHAR;
ALTER TABLE crm.send_ledger ADD COLUMN IF NOT EXISTS consent_scope VARCHAR;
ALTER TABLE crm.send_ledger ADD COLUMN IF NOT EXISTS hold_reason VARCHAR;
ALTER TABLE crm.send_ledger ADD COLUMN IF NOT EXISTS held_count INTEGER;

UPDATE crm.send_ledger
SET
    quiet_hours = s.quiet_hours,
    consent_scope = s.consent_scope
FROM crm.due_steps AS s
WHERE
    crm.send_ledger.run_key = s.run_key
    AND crm.send_ledger.instance_id = s.instance_id
    AND crm.send_ledger.step_id = s.step_id
    AND crm.send_ledger.channel = s.channel;

-- When a released row may be claimed again (a provider's Retry-After, or backoff), per staged outcome.
ALTER TABLE crm.delivery_outcome_stage ADD COLUMN IF NOT EXISTS retry_at TIMESTAMP;

-- The send-time verdicts of one request's rows (go, hold, drop), applied to the ledger in one UPDATE.
CREATE TABLE IF NOT EXISTS crm.delivery_gate_stage (
    claim_token VARCHAR NOT NULL,
    send_key VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    reason VARCHAR,
    hold_until TIMESTAMP
);
