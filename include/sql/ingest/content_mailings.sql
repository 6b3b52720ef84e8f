-- Ingest step shop.content_mailings -> crm.content_mailings (the newsletter plan; upsert by mailing_id).
-- Inputs: shop.content_mailings. Outputs: crm.content_mailings, crm.quarantine, a final row of counts.
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (unused here), :now,
--             :max_length_title, :max_length_name (docs/ingest.md).
DROP TABLE IF EXISTS stage_content_mailings;

CREATE TEMP TABLE stage_content_mailings AS
WITH checked AS (
    SELECT
        s.*,
        CASE
            WHEN s.mailing_id IS NULL THEN 'missing_mailing_id'
            WHEN s.scheduled_at IS NULL THEN 'missing_timestamp'
            WHEN s.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN s.channel IS NULL OR s.channel NOT IN ('email', 'push', 'sms') THEN 'unknown_channel'
            WHEN s.kind IS NULL OR s.kind NOT IN ('content', 'sale') THEN 'unknown_kind'
            WHEN LENGTH(s.name) > :max_length_title THEN 'too_long:name'
            WHEN LENGTH(s.audience) > :max_length_name THEN 'too_long:audience'
        END AS reject_reason
    FROM shop.content_mailings AS s
    WHERE
        (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
        OR s.loaded_at >= :loaded_at_limit
)

SELECT
    checked.*,
    ROW_NUMBER() OVER (
        PARTITION BY checked.mailing_id, checked.reject_reason IS NULL
        ORDER BY checked.loaded_at DESC, checked.scheduled_at DESC
    ) AS version_rank
FROM checked;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.content_mailings' AS source_table,
    COALESCE(
        CAST(mailing_id AS VARCHAR), 'no mailing_id: ' || LEFT(COALESCE(name, ''), 100)
    ) AS source_key,
    loaded_at,
    SPLIT_PART(reject_reason, ':', 1) AS reason,
    LEFT(
        COALESCE('field=' || NULLIF(SPLIT_PART(reject_reason, ':', 2), '') || ' ', '')
        || 'channel=' || COALESCE(channel, 'NULL') || ' kind=' || COALESCE(kind, 'NULL'),
        500
    ) AS detail,
    :now AS quarantined_at
FROM stage_content_mailings
WHERE reject_reason IS NOT NULL
ON CONFLICT DO NOTHING;

INSERT INTO crm.content_mailings (mailing_id, name, channel, kind, audience, scheduled_at, loaded_at)
SELECT
    mailing_id,
    COALESCE(name, 'mailing ' || CAST(mailing_id AS VARCHAR)) AS name,
    channel,
    kind,
    COALESCE(audience, 'all') AS audience,
    scheduled_at,
    loaded_at
FROM stage_content_mailings
WHERE reject_reason IS NULL AND version_rank = 1
ON CONFLICT (mailing_id) DO UPDATE SET
    name = excluded.name,
    channel = excluded.channel,
    kind = excluded.kind,
    audience = excluded.audience,
    scheduled_at = excluded.scheduled_at,
    loaded_at = excluded.loaded_at;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN reject_reason IS NULL AND version_rank = 1 THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN reject_reason IS NOT NULL THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    0 AS rows_deferred
FROM stage_content_mailings;
