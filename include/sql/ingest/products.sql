-- Ingest step shop.products -> crm.products (upsert by product_id, the newest version wins).
-- Inputs: shop.products, crm.products. Outputs: crm.products, crm.quarantine, a final row of counts.
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (unused here), :now, :clock_skew,
--             :max_amount, :max_replenishment_days, :max_length_title, :max_length_name, :max_length_code,
--             :max_length_url (docs/ingest.md).
-- A reason may name the offending column after a colon ('too_long:name'); the quarantine stores the reason
-- without it and names the column in the detail.
DROP TABLE IF EXISTS stage_products;

CREATE TEMP TABLE stage_products AS
WITH checked AS (
    SELECT
        s.*,
        CASE
            WHEN s.product_id IS NULL THEN 'missing_product_id'
            WHEN s.name IS NULL THEN 'missing_name'
            WHEN s.updated_at IS NULL THEN 'missing_timestamp'
            WHEN s.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN s.updated_at > s.loaded_at + :clock_skew THEN 'future_updated_at'
            WHEN
                s.price IN (
                    CAST('NaN' AS DOUBLE PRECISION),
                    CAST('Infinity' AS DOUBLE PRECISION),
                    CAST('-Infinity' AS DOUBLE PRECISION)
                )
                THEN 'non_finite_number:price'
            WHEN s.price IS NULL OR s.price < 0 THEN 'negative_price'
            WHEN s.price > :max_amount THEN 'out_of_range:price'
            WHEN s.replenishment_days < 1 OR s.replenishment_days > :max_replenishment_days
                THEN 'out_of_range:replenishment_days'
            WHEN LENGTH(s.name) > :max_length_title THEN 'too_long:name'
            WHEN LENGTH(s.sku) > :max_length_code THEN 'too_long:sku'
            WHEN LENGTH(s.brand) > :max_length_name THEN 'too_long:brand'
            WHEN LENGTH(s.product_line) > :max_length_name THEN 'too_long:product_line'
            WHEN LENGTH(s.url) > :max_length_url THEN 'too_long:url'
            WHEN LENGTH(s.image_url) > :max_length_url THEN 'too_long:image_url'
        END AS reject_reason
    FROM shop.products AS s
    WHERE
        (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
        OR s.loaded_at >= :loaded_at_limit
)

SELECT
    c.*,
    ROW_NUMBER() OVER (
        PARTITION BY c.product_id, c.reject_reason IS NULL ORDER BY c.updated_at DESC, c.loaded_at DESC
    ) AS version_rank,
    p.updated_at AS stored_updated_at
FROM checked AS c
LEFT JOIN crm.products AS p ON c.product_id = p.product_id;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.products' AS source_table,
    COALESCE(
        CAST(product_id AS VARCHAR), 'no product_id: ' || LEFT(COALESCE(sku, name, ''), 100)
    ) AS source_key,
    loaded_at,
    SPLIT_PART(reject_reason, ':', 1) AS reason,
    LEFT(
        COALESCE('field=' || NULLIF(SPLIT_PART(reject_reason, ':', 2), '') || ' ', '')
        || 'name=' || COALESCE(name, 'NULL')
        || ' price=' || COALESCE(CAST(price AS VARCHAR), 'NULL')
        || ' updated_at=' || COALESCE(CAST(updated_at AS VARCHAR), 'NULL'),
        500
    ) AS detail,
    :now AS quarantined_at
FROM stage_products
WHERE reject_reason IS NOT NULL
ON CONFLICT DO NOTHING;

INSERT INTO crm.products (
    product_id, sku, name, brand, category_id, product_line, generation, price, in_stock, is_consumable,
    replenishment_days, launched_at, image_url, url, updated_at, loaded_at
)
SELECT
    product_id,
    sku,
    name,
    brand,
    category_id,
    product_line,
    generation,
    price,
    COALESCE(in_stock, FALSE) AS in_stock,
    COALESCE(is_consumable, FALSE) AS is_consumable,
    replenishment_days,
    launched_at,
    image_url,
    url,
    updated_at,
    loaded_at
FROM stage_products
WHERE
    reject_reason IS NULL AND version_rank = 1
    AND (stored_updated_at IS NULL OR stored_updated_at <= updated_at)
ON CONFLICT (product_id) DO UPDATE SET
    sku = excluded.sku,
    name = excluded.name,
    brand = excluded.brand,
    category_id = excluded.category_id,
    product_line = excluded.product_line,
    generation = excluded.generation,
    price = excluded.price,
    in_stock = excluded.in_stock,
    is_consumable = excluded.is_consumable,
    replenishment_days = excluded.replenishment_days,
    launched_at = excluded.launched_at,
    image_url = excluded.image_url,
    url = excluded.url,
    updated_at = excluded.updated_at,
    loaded_at = excluded.loaded_at;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN reject_reason IS NULL AND version_rank = 1 THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN reject_reason IS NOT NULL THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    0 AS rows_deferred
FROM stage_products;
