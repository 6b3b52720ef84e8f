-- Migration crm/0006: what delivery adds to the contact contract of crm/0004.
--
-- crm.send_ledger.claim_token   the dispatch attempt that moved a row to sending; outcomes are written only
--                               for rows still holding that token, so a stale writer changes nothing.
-- crm.promo_codes               one deterministic, unique code per chain instance that asks for one
--                               (HMAC of chain and instance), kept so the code can be honoured at checkout.
-- crm.delivery_render_stage     the ids a claimed batch needs rendered (trigger products, order, category,
--                               recommendation kind); filled and emptied within one render transaction.
-- crm.delivery_outcome_stage    the outcomes of one sent batch, applied to the ledger in one UPDATE.

ALTER TABLE crm.send_ledger ADD COLUMN IF NOT EXISTS claim_token VARCHAR;

CREATE TABLE IF NOT EXISTS crm.promo_codes (
    code VARCHAR PRIMARY KEY,
    chain_id VARCHAR NOT NULL,
    instance_id VARCHAR NOT NULL,
    customer_id BIGINT NOT NULL,
    discount_percent INTEGER NOT NULL,
    valid_until TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (chain_id, instance_id)
);

CREATE TABLE IF NOT EXISTS crm.delivery_render_stage (
    claim_token VARCHAR NOT NULL,
    send_key VARCHAR NOT NULL,
    customer_id BIGINT NOT NULL,
    recommend VARCHAR NOT NULL,
    product_id BIGINT,
    order_id BIGINT,
    category_id BIGINT,
    position INTEGER NOT NULL
);

-- Outcomes of one sent batch, bulk-loaded and applied to the ledger in one UPDATE, then deleted.
CREATE TABLE IF NOT EXISTS crm.delivery_outcome_stage (
    claim_token VARCHAR NOT NULL,
    send_key VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    recipient VARCHAR,
    provider_message_id VARCHAR,
    last_error VARCHAR,
    sent_at TIMESTAMP
);
