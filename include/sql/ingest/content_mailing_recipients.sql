-- Ingest step shop.content_mailing_recipients -> crm.content_mailing_recipients (explicit audiences).
-- Inputs: shop.content_mailing_recipients, crm.content_mailings, crm.customers.
-- Outputs: crm.content_mailing_recipients, crm.quarantine, a final row of counts.
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (recipients loaded at or after it
--             whose mailing or customer is not known yet wait for the next run), :now.
DROP TABLE IF EXISTS stage_content_mailing_recipients;

CREATE TEMP TABLE stage_content_mailing_recipients AS
WITH checked AS (
    SELECT
        s.*,
        CASE
            WHEN s.mailing_id IS NULL OR s.customer_id IS NULL THEN 'missing_id'
            WHEN s.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN m.mailing_id IS NULL THEN 'unknown_mailing'
            WHEN c.customer_id IS NULL THEN 'unknown_customer'
        END AS reject_reason
    FROM shop.content_mailing_recipients AS s
    LEFT JOIN crm.content_mailings AS m ON s.mailing_id = m.mailing_id
    LEFT JOIN crm.customers AS c ON s.customer_id = c.customer_id
    WHERE
        (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
        OR s.loaded_at >= :loaded_at_limit
),

ranked AS (
    SELECT
        checked.*,
        ROW_NUMBER() OVER (
            PARTITION BY checked.mailing_id, checked.customer_id, checked.reject_reason IS NULL
            ORDER BY checked.loaded_at DESC
        ) AS copy_no
    FROM checked
)

SELECT
    ranked.*,
    CASE
        WHEN
            ranked.reject_reason IN ('unknown_mailing', 'unknown_customer')
            AND ranked.loaded_at >= :defer_after
            THEN 'deferred'
        WHEN ranked.reject_reason IS NOT NULL THEN 'rejected'
        WHEN ranked.copy_no = 1 THEN 'new'
        ELSE 'stale'
    END AS outcome
FROM ranked;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.content_mailing_recipients' AS source_table,
    COALESCE(CAST(mailing_id AS VARCHAR), 'NULL') || ':' || COALESCE(CAST(customer_id AS VARCHAR), 'NULL')
        AS source_key,
    loaded_at,
    reject_reason AS reason,
    NULL AS detail,
    :now AS quarantined_at
FROM stage_content_mailing_recipients
WHERE outcome = 'rejected'
ON CONFLICT DO NOTHING;

INSERT INTO crm.content_mailing_recipients (mailing_id, customer_id, loaded_at)
SELECT
    mailing_id,
    customer_id,
    loaded_at
FROM stage_content_mailing_recipients
WHERE outcome = 'new'
ON CONFLICT DO NOTHING;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN outcome = 'new' THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    COALESCE(SUM(CASE WHEN outcome = 'deferred' THEN 1 ELSE 0 END), 0) AS rows_deferred
FROM stage_content_mailing_recipients;
