-- Ingest step shop.price_changes -> crm.price_changes (one row per product and change time).
-- Inputs: shop.price_changes, crm.products.
-- Outputs: crm.price_changes, crm.quarantine, a final row of counts.
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (unused here), :now, :max_amount
--             (docs/ingest.md).
-- A reason may name the offending column after a colon ('non_finite_number:new_price'); the quarantine stores
-- the reason without it and names the column in the detail.
DROP TABLE IF EXISTS stage_price_changes;

CREATE TEMP TABLE stage_price_changes AS
WITH checked AS (
    SELECT
        s.*,
        CASE
            WHEN s.product_id IS NULL THEN 'missing_product_id'
            WHEN s.changed_at IS NULL THEN 'missing_timestamp'
            WHEN s.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN
                s.old_price IN (
                    CAST('NaN' AS DOUBLE PRECISION),
                    CAST('Infinity' AS DOUBLE PRECISION),
                    CAST('-Infinity' AS DOUBLE PRECISION)
                )
                THEN 'non_finite_number:old_price'
            WHEN
                s.new_price IN (
                    CAST('NaN' AS DOUBLE PRECISION),
                    CAST('Infinity' AS DOUBLE PRECISION),
                    CAST('-Infinity' AS DOUBLE PRECISION)
                )
                THEN 'non_finite_number:new_price'
            WHEN s.old_price IS NULL OR s.new_price IS NULL OR s.old_price < 0 OR s.new_price < 0
                THEN 'negative_price'
            WHEN s.old_price > :max_amount THEN 'out_of_range:old_price'
            WHEN s.new_price > :max_amount THEN 'out_of_range:new_price'
            WHEN p.product_id IS NULL THEN 'unknown_product'
        END AS reject_reason
    FROM shop.price_changes AS s
    LEFT JOIN crm.products AS p ON s.product_id = p.product_id
    WHERE
        (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
        OR s.loaded_at >= :loaded_at_limit
)

SELECT
    checked.*,
    ROW_NUMBER() OVER (
        PARTITION BY checked.product_id, checked.changed_at, checked.reject_reason IS NULL
        ORDER BY checked.loaded_at DESC
    ) AS copy_no
FROM checked;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.price_changes' AS source_table,
    COALESCE(CAST(product_id AS VARCHAR), 'NULL') || '@' || COALESCE(CAST(changed_at AS VARCHAR), 'NULL')
        AS source_key,
    loaded_at,
    SPLIT_PART(reject_reason, ':', 1) AS reason,
    COALESCE('field=' || NULLIF(SPLIT_PART(reject_reason, ':', 2), '') || ' ', '')
    || 'old_price=' || COALESCE(CAST(old_price AS VARCHAR), 'NULL')
    || ' new_price=' || COALESCE(CAST(new_price AS VARCHAR), 'NULL') AS detail,
    :now AS quarantined_at
FROM stage_price_changes
WHERE reject_reason IS NOT NULL
ON CONFLICT DO NOTHING;

INSERT INTO crm.price_changes (product_id, changed_at, old_price, new_price, loaded_at)
SELECT
    product_id,
    changed_at,
    old_price,
    new_price,
    loaded_at
FROM stage_price_changes
WHERE reject_reason IS NULL AND copy_no = 1
ON CONFLICT DO NOTHING;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN reject_reason IS NULL AND copy_no = 1 THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN reject_reason IS NOT NULL THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    0 AS rows_deferred
FROM stage_price_changes;
