-- Migration crm/0015: each customer's expected next order, and per consumable line its expected next
-- purchase.
--
-- crm.customer_scores.next_order_date   the median of the predicted day of the customer's next purchase if
--                                       they buy again within the horizon (include/config/scores.yaml,
--                                       next_order.horizon_days): of the customers given this date who come
--                                       back, half have come back by it. Never before the day after as_of.
-- crm.customer_scores.next_order_early  the lower quartile of the same prediction (a quarter by then)
-- crm.customer_scores.next_order_late   the upper quartile (three quarters by then): early to late is the
--                                       50 % interval.
-- crm.customer_scores.next_order_basis  what it rests on: 'own_rhythm' (the customer's gaps between
--                                       purchases, scaled by how the shop's gaps vary around each customer's
--                                       mean), 'segment' (a one-time buyer: the shop's gaps between first and
--                                       second purchase of customers with a first check in the same third),
--                                       'shop' (too few of those, or a customer waiting longer than their
--                                       rhythm explains: all the shop's gaps). NULL with the date when the
--                                       shop has too few repeat purchases to learn from.
--
-- crm.customer_line_next_orders: per as-of date, customer and consumable line (the product's product_line,
-- else its category's name) the customer has bought: the last purchase of the line, the customer's cycle for
-- it and the expected next purchase (last purchase + cycle). basis: 'customer' (their own repeat purchases of
-- the line, weighted with the line's cycle), 'line' (the line's cycle learnt from all customers' repeat
-- purchases), 'catalogue' (the line's replenishment_days). The replenishment chain times its first message
-- from cycle_days when last_order_id is the order that triggered it.

ALTER TABLE crm.customer_scores ADD COLUMN IF NOT EXISTS next_order_date DATE;
ALTER TABLE crm.customer_scores ADD COLUMN IF NOT EXISTS next_order_early DATE;
ALTER TABLE crm.customer_scores ADD COLUMN IF NOT EXISTS next_order_late DATE;
ALTER TABLE crm.customer_scores ADD COLUMN IF NOT EXISTS next_order_basis VARCHAR;

-- A view lists its columns when it is created: create it again so it has the new ones.
DROP VIEW IF EXISTS crm.customer_scores_current;
CREATE VIEW crm.customer_scores_current AS
SELECT s.*
FROM crm.customer_scores AS s
WHERE s.as_of = (SELECT MAX(l.as_of) FROM crm.customer_scores AS l);

CREATE TABLE IF NOT EXISTS crm.customer_line_next_orders (
    as_of DATE NOT NULL,
    customer_id BIGINT NOT NULL,
    line VARCHAR NOT NULL,
    purchases INTEGER NOT NULL,
    last_purchase_at TIMESTAMP NOT NULL,
    last_order_id BIGINT NOT NULL,
    cycle_days DOUBLE PRECISION NOT NULL,
    next_purchase_date DATE NOT NULL,
    basis VARCHAR NOT NULL,
    scored_at TIMESTAMP NOT NULL,
    PRIMARY KEY (as_of, customer_id, line),
    CHECK (basis IN ('customer', 'line', 'catalogue'))
);
