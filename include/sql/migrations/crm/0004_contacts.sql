-- Migration crm/0004: the contract between the chains, the contact policy and delivery.
--
-- crm.due_steps      the hand-off: every chain step due in a chains run, for every chain at once, so one
--                    policy stage sees them all (written by the chains, read by the policy).
-- crm.decisions      exactly one outcome per due step: planned, held (until when) or suppressed (reason).
-- crm.send_ledger    one row per planned message under a deterministic key; delivery moves it through
--                    planned -> sending -> sent | failed | unknown | expired and never sends a key twice.
-- crm.suppressions   addresses and customers that must not be contacted on a channel (unsubscribe,
--                    complaint, hard bounce, manual), fed by provider feedback.
-- crm.message_events provider feedback (delivered, open, click, bounce, complaint, unsubscribe), stored
--                    once per provider event id.
-- crm.experiment_assignments  deterministic arms (global control, chain holdout, A/B/n variant) as assigned.

CREATE TABLE IF NOT EXISTS crm.due_steps (
    run_key VARCHAR NOT NULL,
    chain_id VARCHAR NOT NULL,
    step_id VARCHAR NOT NULL,
    step_no INTEGER NOT NULL,
    instance_id VARCHAR NOT NULL,
    trigger_key VARCHAR NOT NULL,
    customer_id BIGINT NOT NULL,
    channel VARCHAR NOT NULL,
    message_kind VARCHAR NOT NULL,
    template VARCHAR NOT NULL,
    priority INTEGER NOT NULL,
    expected_value DOUBLE PRECISION NOT NULL,
    due_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    quiet_hours VARCHAR NOT NULL,
    holdout_share DOUBLE PRECISION NOT NULL,
    variants VARCHAR NOT NULL,
    use_bandit BOOLEAN NOT NULL,
    send_condition VARCHAR,
    consent_scope VARCHAR,
    context VARCHAR NOT NULL,
    PRIMARY KEY (run_key, instance_id, step_id, channel)
);

CREATE TABLE IF NOT EXISTS crm.decisions (
    run_key VARCHAR NOT NULL,
    instance_id VARCHAR NOT NULL,
    step_id VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    chain_id VARCHAR NOT NULL,
    customer_id BIGINT NOT NULL,
    outcome VARCHAR NOT NULL,
    reason VARCHAR,
    hold_until TIMESTAMP,
    variant VARCHAR,
    send_key VARCHAR,
    send_after TIMESTAMP,
    local_send_date DATE,
    decided_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_key, instance_id, step_id, channel)
);

CREATE TABLE IF NOT EXISTS crm.send_ledger (
    send_key VARCHAR PRIMARY KEY,
    chain_id VARCHAR NOT NULL,
    step_id VARCHAR NOT NULL,
    instance_id VARCHAR NOT NULL,
    trigger_key VARCHAR NOT NULL,
    customer_id BIGINT NOT NULL,
    channel VARCHAR NOT NULL,
    message_kind VARCHAR NOT NULL,
    template VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    context VARCHAR NOT NULL,
    planned_at TIMESTAMP NOT NULL,
    send_after TIMESTAMP NOT NULL,
    local_send_date DATE NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    run_key VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    provider VARCHAR,
    provider_message_id VARCHAR,
    recipient VARCHAR,
    attempts INTEGER NOT NULL,
    last_error VARCHAR,
    claimed_at TIMESTAMP,
    sent_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.suppressions (
    channel VARCHAR NOT NULL,
    address VARCHAR NOT NULL,
    customer_id BIGINT,
    reason VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (channel, address, reason)
);

CREATE TABLE IF NOT EXISTS crm.message_events (
    provider VARCHAR NOT NULL,
    provider_event_id VARCHAR NOT NULL,
    send_key VARCHAR,
    event_type VARCHAR NOT NULL,
    recipient VARCHAR,
    occurred_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    detail VARCHAR,
    PRIMARY KEY (provider, provider_event_id)
);

CREATE TABLE IF NOT EXISTS crm.experiment_assignments (
    experiment_id VARCHAR NOT NULL,
    customer_id BIGINT NOT NULL,
    arm VARCHAR NOT NULL,
    assigned_at TIMESTAMP NOT NULL,
    PRIMARY KEY (experiment_id, customer_id)
);
