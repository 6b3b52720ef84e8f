-- Migration crm/0016: send-time optimisation.
--
-- crm.send_hour_profiles    per scored date and segment, the share of the responses (opens, clicks, online
--                           purchases) that fell in each local hour of the day (24 rows per segment),
--                           smoothed towards the shop's profile; segment is an RFM code, 'none' for customers
--                           with no purchase yet, '*' for the whole shop.
-- crm.customer_send_hours   per scored date, every customer with responses in the look-back window: the local
--                           hour at which they respond most, from their own responses shrunk towards their
--                           segment's profile (the fewer their responses, the more the segment counts).
-- crm.due_steps.send_time           the step's send_time ('default' or 'optimal').
-- crm.due_steps.send_time_holdout   the chain's share of a step's recipients sent at the default time.
-- crm.decisions.send_time_arm       'optimal' or 'default' (the holdout) for steps with send_time: optimal.
-- crm.send_ledger.send_time_arm     the same, carried to the message so the reports can compare the arms.

CREATE TABLE IF NOT EXISTS crm.send_hour_profiles (
    as_of DATE NOT NULL,
    segment VARCHAR NOT NULL,
    hour SMALLINT NOT NULL,
    responses DOUBLE PRECISION NOT NULL,
    probability DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (as_of, segment, hour)
);

CREATE TABLE IF NOT EXISTS crm.customer_send_hours (
    as_of DATE NOT NULL,
    customer_id BIGINT NOT NULL,
    segment VARCHAR NOT NULL,
    best_hour SMALLINT NOT NULL,
    responses DOUBLE PRECISION NOT NULL,
    probability DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (as_of, customer_id)
);

ALTER TABLE crm.due_steps ADD COLUMN IF NOT EXISTS send_time VARCHAR;
ALTER TABLE crm.due_steps ADD COLUMN IF NOT EXISTS send_time_holdout DOUBLE PRECISION;
ALTER TABLE crm.decisions ADD COLUMN IF NOT EXISTS send_time_arm VARCHAR;
ALTER TABLE crm.send_ledger ADD COLUMN IF NOT EXISTS send_time_arm VARCHAR;
