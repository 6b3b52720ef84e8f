-- Migration crm/0017: what the SMS channel adds to the send ledger.
--
-- crm.send_ledger.segments         SMS segments the message was billed for (NULL for email and push).
-- crm.send_ledger.cost             what the message cost, in the SMS provider's currency: the provider's
--                                  answer, else segments x the connection's price per segment.
-- crm.send_ledger.delivery_status  the last delivery report of the provider ('delivered', 'undelivered'),
--                                  written by the feedback webhooks; NULL until a report arrives.
-- crm.send_ledger.delivery_at      when that report says it happened.
-- crm.delivery_outcome_stage       carries segments and cost from a request's outcomes to the ledger.

ALTER TABLE crm.send_ledger ADD COLUMN IF NOT EXISTS segments INTEGER;
ALTER TABLE crm.send_ledger ADD COLUMN IF NOT EXISTS cost DOUBLE PRECISION;
ALTER TABLE crm.send_ledger ADD COLUMN IF NOT EXISTS delivery_status VARCHAR;
ALTER TABLE crm.send_ledger ADD COLUMN IF NOT EXISTS delivery_at TIMESTAMP;
ALTER TABLE crm.delivery_outcome_stage ADD COLUMN IF NOT EXISTS segments INTEGER;
ALTER TABLE crm.delivery_outcome_stage ADD COLUMN IF NOT EXISTS cost DOUBLE PRECISION;
