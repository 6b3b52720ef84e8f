-- Migration crm/0007: small report tables, materialised daily by the lifecycle_reports DAG so the CRM pages
-- read a few hundred rows instead of the ledger and the orders. Definitions: docs/measurement.md.
--
-- crm.report_chain_windows      per chain: attribution window and outcome horizon (days), holdout share;
--                               written from the chain configs before each report run.
-- crm.report_attributed_orders  each purchase order that followed a sent message within its chain's window,
--                               once per attribution model (last_touch, first_touch).
-- crm.report_chain_daily        per send day, chain, step, channel, provider and variant: messages by ledger
--                               state, feedback (delivered … unsubscribed), conversions and revenue.
-- crm.report_holdout_daily      per entry day, chain and arm (treated / holdout): entrants and the sum and
--                               sum of squares of their revenue over the chain's outcome horizon.
-- crm.report_cohorts            registration month × months since: customers who bought in that month.
-- crm.report_rfm_distribution   customers per RFM segment on a scored date.
-- crm.report_rfm_migration      customers moving from one RFM code to another between two scored dates.
-- crm.report_customer_kpis      per report date: buyers, repeat-purchase rate, retention, mean LTV.
-- crm.report_runs               one row per report date: what period was recomputed and when.

CREATE TABLE IF NOT EXISTS crm.report_chain_windows (
    chain_id VARCHAR PRIMARY KEY,
    window_days INTEGER NOT NULL,
    horizon_days INTEGER NOT NULL,
    holdout_share DOUBLE PRECISION NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.report_attributed_orders (
    model VARCHAR NOT NULL,
    order_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    ordered_at TIMESTAMP NOT NULL,
    revenue DOUBLE PRECISION NOT NULL,
    send_key VARCHAR NOT NULL,
    chain_id VARCHAR NOT NULL,
    step_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (model, order_id),
    CHECK (model IN ('last_touch', 'first_touch'))
);

CREATE TABLE IF NOT EXISTS crm.report_chain_daily (
    sent_day DATE NOT NULL,
    chain_id VARCHAR NOT NULL,
    step_id VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    provider VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    messages BIGINT NOT NULL,
    sent BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    unknown BIGINT NOT NULL,
    expired BIGINT NOT NULL,
    delivered BIGINT NOT NULL,
    opened BIGINT NOT NULL,
    clicked BIGINT NOT NULL,
    unsubscribed BIGINT NOT NULL,
    bounced BIGINT NOT NULL,
    complained BIGINT NOT NULL,
    converted BIGINT NOT NULL,
    orders_last_touch BIGINT NOT NULL,
    revenue_last_touch DOUBLE PRECISION NOT NULL,
    orders_first_touch BIGINT NOT NULL,
    revenue_first_touch DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (sent_day, chain_id, step_id, channel, provider, variant)
);

CREATE TABLE IF NOT EXISTS crm.report_holdout_daily (
    entry_day DATE NOT NULL,
    chain_id VARCHAR NOT NULL,
    arm VARCHAR NOT NULL,
    entrants BIGINT NOT NULL,
    buyers BIGINT NOT NULL,
    revenue DOUBLE PRECISION NOT NULL,
    revenue_sq DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (entry_day, chain_id, arm),
    CHECK (arm IN ('treated', 'holdout'))
);

CREATE TABLE IF NOT EXISTS crm.report_cohorts (
    cohort_month DATE NOT NULL,
    months_since INTEGER NOT NULL,
    cohort_size BIGINT NOT NULL,
    active_customers BIGINT NOT NULL,
    retention DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (cohort_month, months_since)
);

CREATE TABLE IF NOT EXISTS crm.report_rfm_distribution (
    as_of DATE NOT NULL,
    rfm_code VARCHAR NOT NULL,
    segment_ru VARCHAR NOT NULL,
    segment_en VARCHAR NOT NULL,
    customers BIGINT NOT NULL,
    share DOUBLE PRECISION,
    mean_churn_probability DOUBLE PRECISION,
    mean_ltv DOUBLE PRECISION,
    PRIMARY KEY (as_of, rfm_code)
);

-- from_code 'new' = customers first scored on to_date.
CREATE TABLE IF NOT EXISTS crm.report_rfm_migration (
    from_date DATE NOT NULL,
    to_date DATE NOT NULL,
    from_code VARCHAR NOT NULL,
    to_code VARCHAR NOT NULL,
    customers BIGINT NOT NULL,
    PRIMARY KEY (from_date, to_date, from_code, to_code)
);

CREATE TABLE IF NOT EXISTS crm.report_customer_kpis (
    report_date DATE PRIMARY KEY,
    customers BIGINT NOT NULL,
    buyers BIGINT NOT NULL,
    repeat_buyers BIGINT NOT NULL,
    repeat_purchase_rate DOUBLE PRECISION,
    retention_base BIGINT NOT NULL,
    retained BIGINT NOT NULL,
    retention_rate DOUBLE PRECISION,
    revenue DOUBLE PRECISION NOT NULL,
    avg_check DOUBLE PRECISION,
    mean_ltv DOUBLE PRECISION,
    scored_customers BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.report_runs (
    report_date DATE PRIMARY KEY,
    run_key VARCHAR NOT NULL,
    recomputed_from DATE NOT NULL,
    finished_at TIMESTAMP NOT NULL
);
