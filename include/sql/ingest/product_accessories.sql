-- Ingest step shop.product_accessories -> crm.product_accessories (device -> accessory links).
-- Inputs: shop.product_accessories, crm.products. Outputs: crm.product_accessories, crm.quarantine, counts.
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (unused here), :now.
DROP TABLE IF EXISTS stage_product_accessories;

CREATE TEMP TABLE stage_product_accessories AS
WITH checked AS (
    SELECT
        s.*,
        CASE
            WHEN s.product_id IS NULL OR s.accessory_id IS NULL THEN 'missing_product_id'
            WHEN s.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN p.product_id IS NULL OR a.product_id IS NULL THEN 'unknown_product'
        END AS reject_reason
    FROM shop.product_accessories AS s
    LEFT JOIN crm.products AS p ON s.product_id = p.product_id
    LEFT JOIN crm.products AS a ON s.accessory_id = a.product_id
    WHERE
        (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
        OR s.loaded_at >= :loaded_at_limit
)

SELECT
    checked.*,
    ROW_NUMBER() OVER (
        PARTITION BY checked.product_id, checked.accessory_id, checked.reject_reason IS NULL
        ORDER BY checked.loaded_at DESC
    ) AS copy_no
FROM checked;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.product_accessories' AS source_table,
    COALESCE(CAST(product_id AS VARCHAR), 'NULL') || '>' || COALESCE(CAST(accessory_id AS VARCHAR), 'NULL')
        AS source_key,
    loaded_at,
    reject_reason AS reason,
    NULL AS detail,
    :now AS quarantined_at
FROM stage_product_accessories
WHERE reject_reason IS NOT NULL
ON CONFLICT DO NOTHING;

INSERT INTO crm.product_accessories (product_id, accessory_id, loaded_at)
SELECT
    product_id,
    accessory_id,
    loaded_at
FROM stage_product_accessories
WHERE reject_reason IS NULL AND copy_no = 1
ON CONFLICT DO NOTHING;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN reject_reason IS NULL AND copy_no = 1 THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN reject_reason IS NOT NULL THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    0 AS rows_deferred
FROM stage_product_accessories;
