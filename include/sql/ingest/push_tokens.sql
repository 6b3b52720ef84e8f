-- Ingest step shop.push_tokens -> crm.push_tokens (upsert by token, the latest loaded row wins, so a
-- deactivated token replaces its active version).
-- Inputs: shop.push_tokens, crm.customers. Outputs: crm.push_tokens, crm.quarantine, a final row of counts.
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (tokens loaded at or after it
--             whose customer is not known yet wait for the next run), :now, :max_length_token
--             (docs/ingest.md).
DROP TABLE IF EXISTS stage_push_tokens;

CREATE TEMP TABLE stage_push_tokens AS
WITH checked AS (
    SELECT
        s.*,
        CASE
            WHEN s.token IS NULL OR s.token = '' THEN 'missing_token'
            WHEN s.customer_id IS NULL THEN 'missing_customer_id'
            WHEN s.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN LENGTH(s.token) > :max_length_token THEN 'too_long:token'
            WHEN REGEXP_REPLACE(s.token, '[[:cntrl:]]', '') <> s.token THEN 'control_character:token'
            WHEN s.platform IS NULL OR s.platform NOT IN ('android', 'ios', 'web') THEN 'unknown_platform'
            WHEN c.customer_id IS NULL THEN 'unknown_customer'
        END AS reject_reason
    FROM shop.push_tokens AS s
    LEFT JOIN crm.customers AS c ON s.customer_id = c.customer_id
    WHERE
        (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
        OR s.loaded_at >= :loaded_at_limit
),

ranked AS (
    SELECT
        checked.*,
        ROW_NUMBER() OVER (
            PARTITION BY checked.token, checked.reject_reason IS NULL
            ORDER BY checked.loaded_at DESC, checked.is_active ASC
        ) AS version_rank
    FROM checked
)

SELECT
    ranked.*,
    CASE
        WHEN ranked.reject_reason = 'unknown_customer' AND ranked.loaded_at >= :defer_after THEN 'deferred'
        WHEN ranked.reject_reason IS NOT NULL THEN 'rejected'
        WHEN ranked.version_rank = 1 THEN 'new'
        ELSE 'stale'
    END AS outcome
FROM ranked;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.push_tokens' AS source_table,
    -- A long token is keyed by its start and its MD5, so the key stays short and unique.
    CASE
        WHEN LENGTH(token) > 100 THEN LEFT(token, 100) || '~' || MD5(token)
        ELSE COALESCE(token, 'no token')
    END
    || '@' || COALESCE(CAST(customer_id AS VARCHAR), 'NULL') AS source_key,
    loaded_at,
    SPLIT_PART(reject_reason, ':', 1) AS reason,
    LEFT(
        COALESCE('field=' || NULLIF(SPLIT_PART(reject_reason, ':', 2), '') || ' ', '')
        || 'platform=' || COALESCE(platform, 'NULL'),
        500
    ) AS detail,
    :now AS quarantined_at
FROM stage_push_tokens
WHERE outcome = 'rejected'
ON CONFLICT DO NOTHING;

INSERT INTO crm.push_tokens (token, customer_id, platform, created_at, is_active, loaded_at)
SELECT
    token,
    customer_id,
    platform,
    COALESCE(created_at, loaded_at) AS created_at,
    COALESCE(is_active, TRUE) AS is_active,
    loaded_at
FROM stage_push_tokens
WHERE outcome = 'new'
ON CONFLICT (token) DO UPDATE SET
    customer_id = excluded.customer_id,
    platform = excluded.platform,
    created_at = excluded.created_at,
    is_active = excluded.is_active,
    loaded_at = excluded.loaded_at;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN outcome = 'new' THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    COALESCE(SUM(CASE WHEN outcome = 'deferred' THEN 1 ELSE 0 END), 0) AS rows_deferred
FROM stage_push_tokens;
