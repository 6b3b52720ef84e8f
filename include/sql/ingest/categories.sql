-- Ingest step shop.categories -> crm.categories (upsert by category_id, the latest loaded row wins).
-- Inputs: shop.categories. Outputs: crm.categories, crm.quarantine, a final row of counts.
-- Parameters: :window_start, :window_end (loaded_at window), :defer_after (unused here), :now.
DROP TABLE IF EXISTS stage_categories;

CREATE TEMP TABLE stage_categories AS
SELECT
    s.*,
    CASE
        WHEN s.category_id IS NULL THEN 'missing_category_id'
        WHEN s.name IS NULL THEN 'missing_name'
    END AS reject_reason,
    ROW_NUMBER() OVER (PARTITION BY s.category_id ORDER BY s.loaded_at DESC, s.name ASC) AS version_rank
FROM shop.categories AS s
WHERE s.loaded_at >= :window_start AND s.loaded_at < :window_end;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.categories' AS source_table,
    COALESCE(CAST(category_id AS VARCHAR), 'no category_id: ' || COALESCE(name, '')) AS source_key,
    loaded_at,
    reject_reason AS reason,
    'name=' || COALESCE(name, 'NULL') AS detail,
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
