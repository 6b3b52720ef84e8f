-- Ingest step shop.events -> crm.events for one window of loaded_at.
-- Inputs: shop.events, crm.ref_event_types, stored_events (ingest/stored_events.sql: the stored copies of
--         the window's events), crm.customers, crm.products.
-- Outputs: new rows in crm.events; rejected rows in crm.quarantine; their customers in touched_customers;
--          a final row of counts (rows_read, rows_loaded, rows_quarantined, rows_deferred).
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (rows loaded at or after it whose
--             customer or product is not known yet are deferred to the next run, not quarantined), :now,
--             :earliest_business_date, :clock_skew, :max_amount, :max_length_text, :max_length_code
--             (docs/ingest.md).
-- A reason may name the offending column after a colon ('non_finite_number:price'); the quarantine stores the
-- reason without it and names the column in the detail.
-- Outcome per row: new (loaded now), seen (loaded by an earlier run), deferred, rejected (with a reason).
-- New rows are appended in time order, so the table's blocks stay clustered by ts and the hourly chain
-- queries, which read a few days of it, skip the rest of the history. The insert has no ON CONFLICT clause:
-- 'new' rows are by construction not in crm.events yet, and DuckDB keeps the order of a plain INSERT only
-- (with ON CONFLICT a large first load lands unordered).
DROP TABLE IF EXISTS stage_events;

CREATE TEMP TABLE stage_events AS
WITH batch AS (
    SELECT
        s.*,
        ROW_NUMBER() OVER (PARTITION BY s.event_id ORDER BY s.loaded_at, s.ts) AS copy_no
    FROM shop.events AS s
    WHERE
        (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
        OR s.loaded_at >= :loaded_at_limit
),

checked AS (
    SELECT
        b.*,
        CASE
            WHEN b.event_id IS NULL THEN 'missing_event_id'
            WHEN b.customer_id IS NULL THEN 'missing_customer_id'
            WHEN b.ts IS NULL THEN 'missing_timestamp'
            WHEN b.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN t.event_type IS NULL THEN 'unknown_event_type'
            WHEN b.ts > b.loaded_at + :clock_skew THEN 'future_timestamp'
            WHEN b.ts < :earliest_business_date THEN 'absurd_timestamp'
            WHEN
                b.price IN (
                    CAST('NaN' AS DOUBLE PRECISION),
                    CAST('Infinity' AS DOUBLE PRECISION),
                    CAST('-Infinity' AS DOUBLE PRECISION)
                )
                THEN 'non_finite_number:price'
            WHEN b.price < 0 THEN 'negative_price'
            WHEN b.price > :max_amount THEN 'out_of_range:price'
            WHEN LENGTH(b.search_query) > :max_length_text THEN 'too_long:search_query'
            WHEN LENGTH(b.platform) > :max_length_code THEN 'too_long:platform'
            WHEN b.copy_no > 1 OR e.loaded_at <> b.loaded_at THEN 'duplicate'
            WHEN c.customer_id IS NULL THEN 'unknown_customer'
            WHEN b.product_id IS NOT NULL AND p.product_id IS NULL THEN 'unknown_product'
        END AS reject_reason,
        COALESCE(e.loaded_at = b.loaded_at, FALSE) AS already_loaded
    FROM batch AS b
    LEFT JOIN crm.ref_event_types AS t ON b.event_type = t.event_type
    LEFT JOIN stored_events AS e ON b.event_id = e.event_id
    LEFT JOIN crm.customers AS c ON b.customer_id = c.customer_id
    LEFT JOIN crm.products AS p ON b.product_id = p.product_id
)

SELECT
    checked.*,
    CASE
        WHEN checked.reject_reason IS NULL AND checked.already_loaded THEN 'seen'
        WHEN checked.reject_reason IS NULL THEN 'new'
        WHEN
            checked.reject_reason IN ('unknown_customer', 'unknown_product')
            AND checked.loaded_at >= :defer_after
            THEN 'deferred'
        ELSE 'rejected'
    END AS outcome
FROM checked;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.events' AS source_table,
    COALESCE(CAST(event_id AS VARCHAR), 'no event_id') || '#' || CAST(copy_no AS VARCHAR) AS source_key,
    loaded_at,
    SPLIT_PART(reject_reason, ':', 1) AS reason,
    LEFT(
        COALESCE('field=' || NULLIF(SPLIT_PART(reject_reason, ':', 2), '') || ' ', '')
        || 'customer_id=' || COALESCE(CAST(customer_id AS VARCHAR), 'NULL')
        || ' event_type=' || COALESCE(event_type, 'NULL')
        || ' product_id=' || COALESCE(CAST(product_id AS VARCHAR), 'NULL')
        || ' price=' || COALESCE(CAST(price AS VARCHAR), 'NULL')
        || ' ts=' || COALESCE(CAST(ts AS VARCHAR), 'NULL'),
        500
    ) AS detail,
    :now AS quarantined_at
FROM stage_events
WHERE outcome = 'rejected'
ON CONFLICT DO NOTHING;

INSERT INTO crm.events (
    event_id, customer_id, session_id, event_type, product_id, category_id, search_query, price,
    duration_s, platform, ts, loaded_at
)
SELECT
    event_id,
    customer_id,
    session_id,
    event_type,
    product_id,
    category_id,
    search_query,
    price,
    duration_s,
    platform,
    ts,
    loaded_at
FROM stage_events
WHERE outcome = 'new'
ORDER BY ts, event_id;

INSERT INTO touched_customers (customer_id)
SELECT DISTINCT customer_id FROM stage_events
WHERE outcome = 'new'
ON CONFLICT DO NOTHING;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN outcome = 'new' THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    COALESCE(SUM(CASE WHEN outcome = 'deferred' THEN 1 ELSE 0 END), 0) AS rows_deferred
FROM stage_events;
