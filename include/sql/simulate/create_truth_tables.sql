-- The simulation's ground truth, emptied before a run: the tables the simulated customers' reactions, the
-- configured uplifts and the simulated hours are written to (the summaries truth_chain, truth_step and
-- truth_send_time are built from them at the end of the run, see truth_*.sql). The pipeline never reads
-- schema sim.
-- Inputs: none.
-- Outputs: schema sim; sim.truth_messages, sim.truth_customers, sim.truth_uplift, sim.truth_step_uplift and
--          sim.hours created empty; sim.truth_chain, sim.truth_step and sim.truth_send_time dropped.
-- Parameters: none.
CREATE SCHEMA IF NOT EXISTS sim;

DROP TABLE IF EXISTS sim.truth_messages;
DROP TABLE IF EXISTS sim.truth_chain;
DROP TABLE IF EXISTS sim.truth_uplift;
DROP TABLE IF EXISTS sim.truth_step_uplift;
DROP TABLE IF EXISTS sim.truth_step;
DROP TABLE IF EXISTS sim.truth_customers;
DROP TABLE IF EXISTS sim.truth_send_time;
DROP TABLE IF EXISTS sim.hours;

CREATE TABLE sim.truth_messages (
    send_key VARCHAR PRIMARY KEY,
    chain_id VARCHAR,
    step_id VARCHAR,
    variant VARCHAR,
    channel VARCHAR,
    customer_id BIGINT,
    sent_at TIMESTAMP,
    delivered BOOLEAN,
    bounced BOOLEAN,
    opened BOOLEAN,
    clicked BOOLEAN,
    unsubscribed BOOLEAN,
    uplift DOUBLE PRECISION,
    effect INTEGER,
    order_id BIGINT,
    ordered_at TIMESTAMP,
    revenue DOUBLE PRECISION,
    send_local_hour DOUBLE PRECISION,
    hour_factor DOUBLE PRECISION,
    open_probability DOUBLE PRECISION,
    click_probability DOUBLE PRECISION
);

CREATE TABLE sim.truth_customers (
    customer_id BIGINT PRIMARY KEY,
    timezone VARCHAR,
    preferred_hour INTEGER,
    engagement DOUBLE PRECISION,
    bad_address BOOLEAN
);

CREATE TABLE sim.truth_uplift (
    chain_id VARCHAR,
    variant VARCHAR,
    uplift DOUBLE PRECISION,
    window_days INTEGER
);

CREATE TABLE sim.truth_step_uplift (
    chain_id VARCHAR,
    step_id VARCHAR,
    channel VARCHAR,
    uplift DOUBLE PRECISION,
    window_days INTEGER
);

CREATE TABLE sim.hours (
    hour_at TIMESTAMP PRIMARY KEY,
    released INTEGER,
    ingested INTEGER,
    due_steps INTEGER,
    planned INTEGER,
    sent INTEGER,
    events INTEGER,
    induced INTEGER,
    prevented INTEGER,
    seconds DOUBLE PRECISION
);
