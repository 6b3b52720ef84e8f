-- Ingest step shop.categories -> crm.categories (upsert by category_id, the latest loaded row wins).
-- Inputs: shop.categories. Outputs: crm.categories, crm.quarantine, a final row of counts.
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (unused here), :now,
--             :max_length_name (docs/ingest.md).
DROP TABLE IF EXISTS stage_categories;

CREATE TEMP TABLE stage_categories AS
WITH checked AS (
    SELECT
        s.*,
        CASE
            WHEN s.category_id IS NULL THEN 'missing_category_id'
            WHEN s.name IS NULL THEN 'missing_name'
            WHEN s.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN LENGTH(s.name) > :max_length_name THEN 'too_long:name'
            WHEN LENGTH(s.slug) > :max_length_name THEN 'too_long:slug'
        END AS reject_reason
    FROM shop.categories AS s
    WHERE
        (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
        OR s.loaded_at >= :loaded_at_limit
)

SELECT
    checked.*,
    ROW_NUMBER() OVER (
        PARTITION BY checked.category_id, checked.reject_reason IS NULL
        ORDER BY checked.loaded_at DESC, checked.name ASC
    ) AS version_rank
FROM checked;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.categories' AS source_table,
    COALESCE(
        CAST(category_id AS VARCHAR), 'no category_id: ' || LEFT(COALESCE(name, ''), 100)
    ) AS source_key,
    loaded_at,
    SPLIT_PART(reject_reason, ':', 1) AS reason,
    LEFT(
        COALESCE('field=' || NULLIF(SPLIT_PART(reject_reason, ':', 2), '') || ' ', '')
        || 'name=' || COALESCE(name, 'NULL'),
        500
    ) AS detail,
    :now AS quarantined_at
FROM stage_categories
WHERE reject_reason IS NOT NULL
ON CONFLICT DO NOTHING;

INSERT INTO crm.categories (category_id, parent_id, name, slug, loaded_at)
SELECT
    category_id,
    parent_id,
    name,
    slug,
    loaded_at
FROM stage_categories
WHERE reject_reason IS NULL AND version_rank = 1
ON CONFLICT (category_id) DO UPDATE SET
    parent_id = excluded.parent_id,
    name = excluded.name,
    slug = excluded.slug,
    loaded_at = excluded.loaded_at;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN reject_reason IS NULL AND version_rank = 1 THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN reject_reason IS NOT NULL THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    0 AS rows_deferred
FROM stage_categories;
