-- Ingest step shop.stock_changes -> crm.stock_changes (one row per product and change time).
-- Inputs: shop.stock_changes, crm.products.
-- Outputs: crm.stock_changes, crm.quarantine, a final row of counts.
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (unused here), :now.
DROP TABLE IF EXISTS stage_stock_changes;

CREATE TEMP TABLE stage_stock_changes AS
WITH checked AS (
    SELECT
        s.*,
        CASE
            WHEN s.product_id IS NULL THEN 'missing_product_id'
            WHEN s.changed_at IS NULL OR s.in_stock IS NULL THEN 'missing_timestamp'
            WHEN s.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN p.product_id IS NULL THEN 'unknown_product'
        END AS reject_reason
    FROM shop.stock_changes AS s
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
    'shop.stock_changes' AS source_table,
    COALESCE(CAST(product_id AS VARCHAR), 'NULL') || '@' || COALESCE(CAST(changed_at AS VARCHAR), 'NULL')
        AS source_key,
    loaded_at,
    reject_reason AS reason,
    'in_stock=' || COALESCE(CAST(in_stock AS VARCHAR), 'NULL') AS detail,
    :now AS quarantined_at
FROM stage_stock_changes
WHERE reject_reason IS NOT NULL
ON CONFLICT DO NOTHING;

INSERT INTO crm.stock_changes (product_id, changed_at, in_stock, loaded_at)
SELECT
    product_id,
    changed_at,
    in_stock,
    loaded_at
FROM stage_stock_changes
WHERE reject_reason IS NULL AND copy_no = 1
ON CONFLICT DO NOTHING;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN reject_reason IS NULL AND copy_no = 1 THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN reject_reason IS NOT NULL THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    0 AS rows_deferred
FROM stage_stock_changes;
