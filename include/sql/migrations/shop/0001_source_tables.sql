-- Migration shop/0001: the retailer's source tables (schema `shop`).
--
-- In production these tables belong to the retailer and are only read by the pipeline; this migration
-- creates them for the demo shop, the tests and the benchmarks. They deliberately carry no primary keys or
-- NOT NULL constraints: real source data has missing ids and duplicates, and the ingest quarantines them.
-- Every table has `loaded_at`, the time the row landed in the warehouse; the ingest watermark follows it,
-- so rows that arrive late (an old `ts`, a new `loaded_at`) are still picked up.
-- Timestamps are UTC without time zone; `customers.timezone` is an IANA name
-- (Europe/Moscow, Asia/Vladivostok…).

CREATE SCHEMA IF NOT EXISTS shop;

CREATE TABLE IF NOT EXISTS shop.customers (
    customer_id BIGINT,
    email VARCHAR,
    phone VARCHAR,
    first_name VARCHAR,
    last_name VARCHAR,
    gender VARCHAR,
    birthday DATE,
    city VARCHAR,
    timezone VARCHAR,
    registered_at TIMESTAMP,
    signup_source VARCHAR,
    email_consent BOOLEAN,
    email_consent_at TIMESTAMP,
    push_consent BOOLEAN,
    push_consent_at TIMESTAMP,
    sms_consent BOOLEAN,
    sms_consent_at TIMESTAMP,
    updated_at TIMESTAMP,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.push_tokens (
    customer_id BIGINT,
    token VARCHAR,
    platform VARCHAR,
    created_at TIMESTAMP,
    is_active BOOLEAN,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.categories (
    category_id BIGINT,
    parent_id BIGINT,
    name VARCHAR,
    slug VARCHAR,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.products (
    product_id BIGINT,
    sku VARCHAR,
    name VARCHAR,
    brand VARCHAR,
    category_id BIGINT,
    product_line VARCHAR,
    generation INTEGER,
    price DOUBLE PRECISION,
    in_stock BOOLEAN,
    is_consumable BOOLEAN,
    replenishment_days INTEGER,
    launched_at DATE,
    image_url VARCHAR,
    url VARCHAR,
    updated_at TIMESTAMP,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.product_accessories (
    product_id BIGINT,
    accessory_id BIGINT,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.events (
    event_id BIGINT,
    customer_id BIGINT,
    session_id BIGINT,
    event_type VARCHAR,
    product_id BIGINT,
    category_id BIGINT,
    search_query VARCHAR,
    price DOUBLE PRECISION,
    duration_s INTEGER,
    platform VARCHAR,
    ts TIMESTAMP,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.orders (
    order_id BIGINT,
    customer_id BIGINT,
    channel VARCHAR,
    store_id BIGINT,
    status VARCHAR,
    total_amount DOUBLE PRECISION,
    discount_amount DOUBLE PRECISION,
    promo_code VARCHAR,
    ordered_at TIMESTAMP,
    delivered_at TIMESTAMP,
    updated_at TIMESTAMP,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.order_items (
    order_id BIGINT,
    line_no INTEGER,
    product_id BIGINT,
    quantity INTEGER,
    price DOUBLE PRECISION,
    discount DOUBLE PRECISION,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.price_changes (
    product_id BIGINT,
    old_price DOUBLE PRECISION,
    new_price DOUBLE PRECISION,
    changed_at TIMESTAMP,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.stock_changes (
    product_id BIGINT,
    in_stock BOOLEAN,
    changed_at TIMESTAMP,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.content_mailings (
    mailing_id BIGINT,
    name VARCHAR,
    channel VARCHAR,
    kind VARCHAR,
    audience VARCHAR,
    scheduled_at TIMESTAMP,
    loaded_at TIMESTAMP
);

CREATE TABLE IF NOT EXISTS shop.content_mailing_recipients (
    mailing_id BIGINT,
    customer_id BIGINT,
    loaded_at TIMESTAMP
);
