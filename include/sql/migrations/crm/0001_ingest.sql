-- Migration crm/0001: the validated copy of the source, quarantine, watermarks and per-customer state.
--
-- `crm` is the pipeline's own schema. The ingest copies each source row that passes validation into the
-- matching crm table (entities are upserted by id, facts appended by id), records every rejected row in
-- crm.quarantine with a reason code, and keeps crm.customer_state up to date for the customers a
-- batch touched.
-- All timestamps are UTC without time zone.

CREATE SCHEMA IF NOT EXISTS crm;

-- Reference lists that validation joins against; extend them with an INSERT, no code change needed.
CREATE TABLE IF NOT EXISTS crm.ref_event_types (
    event_type VARCHAR PRIMARY KEY,
    description VARCHAR NOT NULL
);

INSERT INTO crm.ref_event_types (event_type, description) VALUES
('view_product', 'product page viewed'),
('view_category', 'category page viewed'),
('search', 'search query'),
('add_to_cart', 'product added to the cart'),
('remove_from_cart', 'product removed from the cart'),
('add_to_wishlist', 'product added to the wishlist'),
('app_open', 'mobile app opened'),
('subscribe', 'subscribed to the newsletter')
ON CONFLICT (event_type) DO NOTHING;

CREATE TABLE IF NOT EXISTS crm.ref_order_statuses (
    status VARCHAR PRIMARY KEY,
    counts_as_purchase BOOLEAN NOT NULL
);

INSERT INTO crm.ref_order_statuses (status, counts_as_purchase) VALUES
('created', FALSE),
('paid', TRUE),
('shipped', TRUE),
('delivered', TRUE),
('completed', TRUE),
('cancelled', FALSE),
('returned', FALSE)
ON CONFLICT (status) DO NOTHING;

-- IANA time zone names customers may have; filled by lifecycle.migrations from Python's tz database.
CREATE TABLE IF NOT EXISTS crm.ref_timezones (
    timezone VARCHAR PRIMARY KEY
);

CREATE TABLE IF NOT EXISTS crm.watermarks (
    source_table VARCHAR PRIMARY KEY,
    loaded_through TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.ingest_runs (
    run_key VARCHAR NOT NULL,
    source_table VARCHAR NOT NULL,
    window_start TIMESTAMP,
    window_end TIMESTAMP NOT NULL,
    rows_read BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    rows_deferred BIGINT NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_key, source_table)
);

CREATE TABLE IF NOT EXISTS crm.quarantine (
    source_table VARCHAR NOT NULL,
    source_key VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    reason VARCHAR NOT NULL,
    detail VARCHAR,
    quarantined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source_table, source_key, loaded_at, reason)
);

CREATE TABLE IF NOT EXISTS crm.customers (
    customer_id BIGINT PRIMARY KEY,
    email VARCHAR,
    phone VARCHAR,
    first_name VARCHAR,
    last_name VARCHAR,
    gender VARCHAR,
    birthday DATE,
    city VARCHAR,
    timezone VARCHAR NOT NULL,
    registered_at TIMESTAMP NOT NULL,
    signup_source VARCHAR,
    email_consent BOOLEAN NOT NULL,
    email_consent_at TIMESTAMP,
    push_consent BOOLEAN NOT NULL,
    push_consent_at TIMESTAMP,
    sms_consent BOOLEAN NOT NULL,
    sms_consent_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.push_tokens (
    token VARCHAR PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    platform VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    is_active BOOLEAN NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.categories (
    category_id BIGINT PRIMARY KEY,
    parent_id BIGINT,
    name VARCHAR NOT NULL,
    slug VARCHAR,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.products (
    product_id BIGINT PRIMARY KEY,
    sku VARCHAR,
    name VARCHAR NOT NULL,
    brand VARCHAR,
    category_id BIGINT,
    product_line VARCHAR,
    generation INTEGER,
    price DOUBLE PRECISION NOT NULL,
    in_stock BOOLEAN NOT NULL,
    is_consumable BOOLEAN NOT NULL,
    replenishment_days INTEGER,
    launched_at DATE,
    image_url VARCHAR,
    url VARCHAR,
    updated_at TIMESTAMP NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.product_accessories (
    product_id BIGINT NOT NULL,
    accessory_id BIGINT NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (product_id, accessory_id)
);

CREATE TABLE IF NOT EXISTS crm.events (
    event_id BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    session_id BIGINT,
    event_type VARCHAR NOT NULL,
    product_id BIGINT,
    category_id BIGINT,
    search_query VARCHAR,
    price DOUBLE PRECISION,
    duration_s INTEGER,
    platform VARCHAR,
    ts TIMESTAMP NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.orders (
    order_id BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    channel VARCHAR NOT NULL,
    store_id BIGINT,
    status VARCHAR NOT NULL,
    total_amount DOUBLE PRECISION NOT NULL,
    discount_amount DOUBLE PRECISION NOT NULL,
    promo_code VARCHAR,
    ordered_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.order_items (
    order_id BIGINT NOT NULL,
    line_no INTEGER NOT NULL,
    product_id BIGINT NOT NULL,
    quantity INTEGER NOT NULL,
    price DOUBLE PRECISION NOT NULL,
    discount DOUBLE PRECISION NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE IF NOT EXISTS crm.price_changes (
    product_id BIGINT NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    old_price DOUBLE PRECISION NOT NULL,
    new_price DOUBLE PRECISION NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (product_id, changed_at)
);

CREATE TABLE IF NOT EXISTS crm.stock_changes (
    product_id BIGINT NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    in_stock BOOLEAN NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (product_id, changed_at)
);

CREATE TABLE IF NOT EXISTS crm.content_mailings (
    mailing_id BIGINT PRIMARY KEY,
    name VARCHAR NOT NULL,
    channel VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    audience VARCHAR NOT NULL,
    scheduled_at TIMESTAMP NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS crm.content_mailing_recipients (
    mailing_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (mailing_id, customer_id)
);

-- One row per customer, refreshed for the customers each ingest batch touched.
-- Order aggregates are recomputed from crm.orders for those customers (orders change status, e.g. returns);
-- event timestamps only ever move forward, so they are merged with GREATEST.
CREATE TABLE IF NOT EXISTS crm.customer_state (
    customer_id BIGINT PRIMARY KEY,
    first_order_at TIMESTAMP,
    last_order_at TIMESTAMP,
    orders_count INTEGER NOT NULL,
    returned_orders_count INTEGER NOT NULL,
    online_orders_count INTEGER NOT NULL,
    offline_orders_count INTEGER NOT NULL,
    revenue_total DOUBLE PRECISION NOT NULL,
    discount_total DOUBLE PRECISION NOT NULL,
    avg_check DOUBLE PRECISION,
    last_event_at TIMESTAMP,
    last_view_at TIMESTAMP,
    last_cart_at TIMESTAMP,
    last_app_open_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
