-- Migration crm/0005: trigger chains (chain instances, their progress, per-chain watermarks, run figures).
--
-- crm.chain_instances   one row per entry of a customer into a chain for a trigger key (a cart, a product,
--                       an order, a birthday…): active until it completes its last step or exits (reason).
-- crm.chain_watermarks  per chain, the trigger time up to which new entries were looked for (incremental).
-- crm.chain_candidates  scratch: the entry query's rows of the chain being processed (replaced every run).
-- crm.chain_steps       the steps of every chain as configured (delays in seconds), refreshed from the YAML
--                       communication map on every run so SQL can compute when each step is due.
-- crm.chain_step_log    steps a chain passed over itself (an RFM segment override said "skip").
-- crm.chain_runs        per run and chain: candidates, entries, exits, completions, due steps.
-- crm.calendar_occasions the calendar of the seasonal chain (month and day of each occasion's start);
--                       analysts add or move an occasion with an INSERT or UPDATE.

CREATE TABLE IF NOT EXISTS crm.chain_instances (
    instance_id VARCHAR PRIMARY KEY,
    chain_id VARCHAR NOT NULL,
    customer_id BIGINT NOT NULL,
    trigger_key VARCHAR NOT NULL,
    branch VARCHAR,
    triggered_at TIMESTAMP NOT NULL,
    entered_at TIMESTAMP NOT NULL,
    entered_run_key VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    exit_reason VARCHAR,
    exited_at TIMESTAMP,
    exited_run_key VARCHAR,
    touches INTEGER NOT NULL,
    product_ids VARCHAR,
    trigger_value DOUBLE PRECISION,
    context VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (status IN ('active', 'exited', 'completed'))
);

CREATE TABLE IF NOT EXISTS crm.chain_watermarks (
    chain_id VARCHAR PRIMARY KEY,
    processed_through TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.chain_candidates (
    chain_id VARCHAR NOT NULL,
    customer_id BIGINT NOT NULL,
    trigger_key VARCHAR NOT NULL,
    branch VARCHAR,
    triggered_at TIMESTAMP NOT NULL,
    product_ids VARCHAR,
    trigger_value DOUBLE PRECISION,
    context VARCHAR NOT NULL,
    reentry_days INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.chain_steps (
    chain_id VARCHAR NOT NULL,
    step_no INTEGER NOT NULL,
    step_id VARCHAR NOT NULL,
    delay_s BIGINT NOT NULL,
    branch VARCHAR,
    PRIMARY KEY (chain_id, step_id)
);

CREATE TABLE IF NOT EXISTS crm.chain_step_log (
    instance_id VARCHAR NOT NULL,
    step_id VARCHAR NOT NULL,
    chain_id VARCHAR NOT NULL,
    customer_id BIGINT NOT NULL,
    outcome VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    run_key VARCHAR NOT NULL,
    logged_at TIMESTAMP NOT NULL,
    PRIMARY KEY (instance_id, step_id)
);

CREATE TABLE IF NOT EXISTS crm.chain_runs (
    run_key VARCHAR NOT NULL,
    chain_id VARCHAR NOT NULL,
    as_of TIMESTAMP NOT NULL,
    window_start TIMESTAMP NOT NULL,
    candidates INTEGER NOT NULL,
    entered INTEGER NOT NULL,
    exited INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    due_steps INTEGER NOT NULL,
    skipped_steps INTEGER NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_key, chain_id)
);

CREATE TABLE IF NOT EXISTS crm.calendar_occasions (
    occasion_id VARCHAR PRIMARY KEY,
    name_ru VARCHAR NOT NULL,
    name_en VARCHAR NOT NULL,
    starts_month SMALLINT NOT NULL,
    starts_day SMALLINT NOT NULL
);

-- The day each occasion's campaign starts (a week or two before the date itself).
INSERT INTO crm.calendar_occasions (occasion_id, name_ru, name_en, starts_month, starts_day) VALUES
('new_year', 'Новый год', 'New Year', 12, 10),
('defenders_day', '23 февраля', 'Defender of the Fatherland Day', 2, 12),
('womens_day', '8 марта', 'International Women''s Day', 3, 1),
('back_to_school', 'Снова в школу', 'Back to school', 8, 15),
('singles_day', '11.11', 'Singles'' Day', 11, 4),
('black_friday', 'Чёрная пятница', 'Black Friday', 11, 20)
ON CONFLICT (occasion_id) DO NOTHING;

-- The final outcome of each step of each instance: what the contact policy planned or suppressed (a 'held'
-- step is not final and is due again) and what a chain skipped itself. A step with an outcome is done.
CREATE OR REPLACE VIEW crm.chain_step_outcomes AS
SELECT
    d.instance_id,
    d.step_id,
    d.run_key,
    d.outcome
FROM crm.decisions AS d
WHERE d.outcome IN ('planned', 'suppressed')
UNION ALL
SELECT
    l.instance_id,
    l.step_id,
    l.run_key,
    l.outcome
FROM crm.chain_step_log AS l;
