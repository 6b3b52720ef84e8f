-- Migration crm/0027: the cycles the replenishment and second-purchase chains time their entries by, learnt
-- once a day by the daily scores instead of from a year of orders on every hourly run.
--
-- crm.product_cycles     per as-of date and consumable product: the repeat purchases of the product by one
--                        customer over the last next_order.line_learn_days (include/config/scores.yaml) and
--                        the median gap between two of them, in days (gaps of a day or less are a forgotten
--                        item, not a cycle). The replenishment chain uses the median when there are at least
--                        its min_repeats, else the catalogue's replenishment_days.
-- crm.purchase_intervals per as-of date: the shop's gaps between two purchases by one customer over the last
--                        next_order.interval_learn_days and their median (NULL without a gap). The
--                        second-purchase chain waits the median when there are at least its min_gaps, else
--                        its default_interval_days.
-- crm.customer_line_next_orders.next_purchase_at
--                        the expected next purchase of the line as a moment (last_purchase_at + cycle_days;
--                        next_purchase_date is its day), so the hourly chain finds the reminders due in its
--                        window without computing every customer's moment.
-- crm.score_runs.unscored_from
--                        orders placed or loaded from this moment on may be missing from the run's scores
--                        (the end of the as-of date, or earlier when the ingest had not yet finished loading
--                        it): the replenishment chain times such orders by the product's cycle. NULL in the
--                        rows of scores made before this migration, which the chain treats as the beginning
--                        of time.

CREATE TABLE IF NOT EXISTS crm.product_cycles (
    as_of DATE NOT NULL,
    product_id BIGINT NOT NULL,
    repeats INTEGER NOT NULL,
    median_gap_days DOUBLE PRECISION NOT NULL,
    scored_at TIMESTAMP NOT NULL,
    PRIMARY KEY (as_of, product_id)
);

CREATE TABLE IF NOT EXISTS crm.purchase_intervals (
    as_of DATE PRIMARY KEY,
    gaps BIGINT NOT NULL,
    median_gap_days DOUBLE PRECISION,
    scored_at TIMESTAMP NOT NULL
);

ALTER TABLE crm.customer_line_next_orders ADD COLUMN IF NOT EXISTS next_purchase_at TIMESTAMP;

UPDATE crm.customer_line_next_orders
SET next_purchase_at = last_purchase_at + cycle_days * INTERVAL '1 day'
WHERE next_purchase_at IS NULL;

ALTER TABLE crm.score_runs ADD COLUMN IF NOT EXISTS unscored_from TIMESTAMP;
