-- Ingest step shop.orders -> crm.orders for one window of loaded_at (upsert: the newest version of an order
-- wins, so a later status change such as a return replaces the earlier row).
-- Inputs: shop.orders, crm.ref_order_statuses, crm.orders, crm.customers.
-- Outputs: new or changed orders in crm.orders (new ones appended in time order); rejected rows in
--          crm.quarantine; their customers in touched_customers; a final row of counts
--          (rows_read, rows_loaded, rows_quarantined, rows_deferred).
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (orders loaded at or after it whose
--             customer is not known yet wait for the next run), :now, :earliest_business_date, :clock_skew,
--             :max_amount, :max_length_code (docs/ingest.md).
-- A reason may name the offending column after a colon ('out_of_range:total_amount'); the quarantine stores
-- the reason without it and names the column in the detail. Versions are ranked among valid rows only.
DROP TABLE IF EXISTS stage_orders;

CREATE TEMP TABLE stage_orders AS
WITH batch AS (
    SELECT
        s.*,
        ROW_NUMBER() OVER (
            PARTITION BY s.order_id, s.updated_at, s.loaded_at ORDER BY s.status
        ) AS copy_no
    FROM shop.orders AS s
    WHERE
        (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
        OR s.loaded_at >= :loaded_at_limit
),

checked AS (
    SELECT
        b.*,
        CASE
            WHEN b.order_id IS NULL THEN 'missing_order_id'
            WHEN b.customer_id IS NULL THEN 'missing_customer_id'
            WHEN b.ordered_at IS NULL OR b.updated_at IS NULL THEN 'missing_timestamp'
            WHEN b.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN b.updated_at > b.loaded_at + :clock_skew THEN 'future_updated_at'
            WHEN st.status IS NULL THEN 'unknown_status'
            WHEN b.channel IS NULL OR b.channel NOT IN ('online', 'offline') THEN 'unknown_channel'
            WHEN
                b.total_amount IN (
                    CAST('NaN' AS DOUBLE PRECISION),
                    CAST('Infinity' AS DOUBLE PRECISION),
                    CAST('-Infinity' AS DOUBLE PRECISION)
                )
                THEN 'non_finite_number:total_amount'
            WHEN
                b.discount_amount IN (
                    CAST('NaN' AS DOUBLE PRECISION),
                    CAST('Infinity' AS DOUBLE PRECISION),
                    CAST('-Infinity' AS DOUBLE PRECISION)
                )
                THEN 'non_finite_number:discount_amount'
            WHEN b.total_amount IS NULL OR b.total_amount < 0 OR b.discount_amount < 0 THEN 'negative_amount'
            WHEN b.total_amount > :max_amount THEN 'out_of_range:total_amount'
            WHEN b.discount_amount > :max_amount THEN 'out_of_range:discount_amount'
            WHEN LENGTH(b.promo_code) > :max_length_code THEN 'too_long:promo_code'
            WHEN b.ordered_at > b.loaded_at + :clock_skew THEN 'future_timestamp'
            WHEN b.ordered_at < :earliest_business_date THEN 'absurd_timestamp'
            WHEN b.copy_no > 1 THEN 'duplicate'
            WHEN c.customer_id IS NULL THEN 'unknown_customer'
        END AS reject_reason,
        o.updated_at AS stored_updated_at,
        o.loaded_at AS stored_loaded_at
    FROM batch AS b
    LEFT JOIN crm.ref_order_statuses AS st ON b.status = st.status
    LEFT JOIN crm.orders AS o ON b.order_id = o.order_id
    LEFT JOIN crm.customers AS c ON b.customer_id = c.customer_id
),

ranked AS (
    SELECT
        checked.*,
        ROW_NUMBER() OVER (
            PARTITION BY checked.order_id, checked.copy_no, checked.reject_reason IS NULL
            ORDER BY checked.updated_at DESC, checked.loaded_at DESC
        ) AS version_rank
    FROM checked
)

SELECT
    ranked.*,
    CASE
        WHEN ranked.reject_reason = 'unknown_customer' AND ranked.loaded_at >= :defer_after THEN 'deferred'
        WHEN ranked.reject_reason IS NOT NULL THEN 'rejected'
        WHEN
            ranked.stored_updated_at = ranked.updated_at AND ranked.stored_loaded_at = ranked.loaded_at
            THEN 'seen'
        WHEN ranked.version_rank > 1 OR ranked.stored_updated_at > ranked.updated_at THEN 'stale'
        ELSE 'new'
    END AS outcome
FROM ranked;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.orders' AS source_table,
    COALESCE(CAST(order_id AS VARCHAR), 'no order_id') || '#' || CAST(copy_no AS VARCHAR) AS source_key,
    loaded_at,
    SPLIT_PART(reject_reason, ':', 1) AS reason,
    LEFT(
        COALESCE('field=' || NULLIF(SPLIT_PART(reject_reason, ':', 2), '') || ' ', '')
        || 'customer_id=' || COALESCE(CAST(customer_id AS VARCHAR), 'NULL')
        || ' status=' || COALESCE(status, 'NULL')
        || ' channel=' || COALESCE(channel, 'NULL')
        || ' total_amount=' || COALESCE(CAST(total_amount AS VARCHAR), 'NULL')
        || ' ordered_at=' || COALESCE(CAST(ordered_at AS VARCHAR), 'NULL')
        || ' updated_at=' || COALESCE(CAST(updated_at AS VARCHAR), 'NULL'),
        500
    ) AS detail,
    :now AS quarantined_at
FROM stage_orders
WHERE outcome = 'rejected'
ON CONFLICT DO NOTHING;

-- Orders already stored take their newer version.
INSERT INTO crm.orders (
    order_id, customer_id, channel, store_id, status, total_amount, discount_amount, promo_code,
    ordered_at, delivered_at, updated_at, loaded_at
)
SELECT
    order_id,
    customer_id,
    channel,
    store_id,
    status,
    total_amount,
    COALESCE(discount_amount, 0) AS discount_amount,
    promo_code,
    ordered_at,
    delivered_at,
    updated_at,
    loaded_at
FROM stage_orders
WHERE outcome = 'new' AND stored_updated_at IS NOT NULL
ON CONFLICT (order_id) DO UPDATE SET
    customer_id = excluded.customer_id,
    channel = excluded.channel,
    store_id = excluded.store_id,
    status = excluded.status,
    total_amount = excluded.total_amount,
    discount_amount = excluded.discount_amount,
    promo_code = excluded.promo_code,
    ordered_at = excluded.ordered_at,
    delivered_at = excluded.delivered_at,
    updated_at = excluded.updated_at,
    loaded_at = excluded.loaded_at;

-- New orders are appended in time order (a plain INSERT keeps the order of its rows; DuckDB's upsert
-- does not): DuckDB then skips the row groups outside a query's ordered_at bounds.
INSERT INTO crm.orders (
    order_id, customer_id, channel, store_id, status, total_amount, discount_amount, promo_code,
    ordered_at, delivered_at, updated_at, loaded_at
)
SELECT
    order_id,
    customer_id,
    channel,
    store_id,
    status,
    total_amount,
    COALESCE(discount_amount, 0) AS discount_amount,
    promo_code,
    ordered_at,
    delivered_at,
    updated_at,
    loaded_at
FROM stage_orders
WHERE outcome = 'new' AND stored_updated_at IS NULL
ORDER BY ordered_at, order_id;

INSERT INTO touched_customers (customer_id)
SELECT DISTINCT customer_id FROM stage_orders
WHERE outcome = 'new'
ON CONFLICT DO NOTHING;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN outcome = 'new' THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    COALESCE(SUM(CASE WHEN outcome = 'deferred' THEN 1 ELSE 0 END), 0) AS rows_deferred
FROM stage_orders;
