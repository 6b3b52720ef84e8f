-- Ingest step shop.order_items -> crm.order_items for one window of loaded_at (one row per order line).
-- Inputs: shop.order_items, crm.order_items, crm.orders, crm.products.
-- Outputs: new lines in crm.order_items; rejected rows in crm.quarantine;
--          a final row of counts (rows_read, rows_loaded, rows_quarantined, rows_deferred).
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (lines loaded at or after it whose
--             order or product is not known yet wait for the next run), :now, :max_amount, :max_quantity
--             (docs/ingest.md).
-- A reason may name the offending column after a colon ('out_of_range:quantity'); the quarantine stores the
-- reason without it and names the column in the detail.
DROP TABLE IF EXISTS stage_order_items;

CREATE TEMP TABLE stage_order_items AS
WITH batch AS (
    SELECT
        s.*,
        ROW_NUMBER() OVER (PARTITION BY s.order_id, s.line_no ORDER BY s.loaded_at, s.product_id) AS copy_no
    FROM shop.order_items AS s
    WHERE
        (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
        OR s.loaded_at >= :loaded_at_limit
),

checked AS (
    SELECT
        b.*,
        CASE
            WHEN b.order_id IS NULL THEN 'missing_order_id'
            WHEN b.line_no IS NULL THEN 'missing_line_no'
            WHEN b.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN b.quantity IS NULL OR b.quantity <= 0 THEN 'bad_quantity'
            WHEN b.quantity > :max_quantity THEN 'out_of_range:quantity'
            WHEN
                b.price IN (
                    CAST('NaN' AS DOUBLE PRECISION),
                    CAST('Infinity' AS DOUBLE PRECISION),
                    CAST('-Infinity' AS DOUBLE PRECISION)
                )
                THEN 'non_finite_number:price'
            WHEN
                b.discount IN (
                    CAST('NaN' AS DOUBLE PRECISION),
                    CAST('Infinity' AS DOUBLE PRECISION),
                    CAST('-Infinity' AS DOUBLE PRECISION)
                )
                THEN 'non_finite_number:discount'
            WHEN b.price IS NULL OR b.price < 0 OR b.discount < 0 THEN 'negative_price'
            WHEN b.price > :max_amount THEN 'out_of_range:price'
            WHEN b.discount > :max_amount THEN 'out_of_range:discount'
            WHEN b.copy_no > 1 OR i.loaded_at <> b.loaded_at THEN 'duplicate'
            WHEN o.order_id IS NULL THEN 'unknown_order'
            WHEN p.product_id IS NULL THEN 'unknown_product'
        END AS reject_reason,
        COALESCE(i.loaded_at = b.loaded_at, FALSE) AS already_loaded
    FROM batch AS b
    LEFT JOIN crm.order_items AS i ON b.order_id = i.order_id AND b.line_no = i.line_no
    LEFT JOIN crm.orders AS o ON b.order_id = o.order_id
    LEFT JOIN crm.products AS p ON b.product_id = p.product_id
)

SELECT
    checked.*,
    CASE
        WHEN checked.reject_reason IS NULL AND checked.already_loaded THEN 'seen'
        WHEN checked.reject_reason IS NULL THEN 'new'
        WHEN
            checked.reject_reason IN ('unknown_order', 'unknown_product')
            AND checked.loaded_at >= :defer_after
            THEN 'deferred'
        ELSE 'rejected'
    END AS outcome
FROM checked;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.order_items' AS source_table,
    COALESCE(CAST(order_id AS VARCHAR), 'no order_id') || ':' || COALESCE(CAST(line_no AS VARCHAR), '?')
    || '#' || CAST(copy_no AS VARCHAR) AS source_key,
    loaded_at,
    SPLIT_PART(reject_reason, ':', 1) AS reason,
    COALESCE('field=' || NULLIF(SPLIT_PART(reject_reason, ':', 2), '') || ' ', '')
    || 'product_id=' || COALESCE(CAST(product_id AS VARCHAR), 'NULL')
    || ' quantity=' || COALESCE(CAST(quantity AS VARCHAR), 'NULL')
    || ' price=' || COALESCE(CAST(price AS VARCHAR), 'NULL')
    || ' discount=' || COALESCE(CAST(discount AS VARCHAR), 'NULL') AS detail,
    :now AS quarantined_at
FROM stage_order_items
WHERE outcome = 'rejected'
ON CONFLICT DO NOTHING;

INSERT INTO crm.order_items (order_id, line_no, product_id, quantity, price, discount, loaded_at)
SELECT
    order_id,
    line_no,
    product_id,
    quantity,
    price,
    COALESCE(discount, 0) AS discount,
    loaded_at
FROM stage_order_items
WHERE outcome = 'new'
ON CONFLICT DO NOTHING;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN outcome = 'new' THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    COALESCE(SUM(CASE WHEN outcome = 'deferred' THEN 1 ELSE 0 END), 0) AS rows_deferred
FROM stage_order_items;
