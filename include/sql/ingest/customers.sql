-- Ingest step shop.customers -> crm.customers for one window of loaded_at (upsert: the newest version wins).
-- Inputs: shop.customers, crm.ref_timezones, crm.customers.
-- Outputs: new or changed customers in crm.customers; rejected rows in crm.quarantine; changed customers in
--          touched_customers; a final row of counts
--          (rows_read, rows_loaded, rows_quarantined, rows_deferred).
-- Parameters: :window_start, :window_end (loaded_at window), :loaded_at_limit (rows loaded at or after it lie
--             in the future and are read to be quarantined), :defer_after (unused here), :now,
--             :earliest_business_date, :clock_skew, :max_length_email, :max_length_phone, :max_length_name,
--             :max_length_code (docs/ingest.md).
-- Outcome per row: new (inserted or newer than the stored version), seen (this version is already stored),
--                  stale (an older version than the stored one, kept out), rejected (with a reason).
-- Phones are stored in E.164 (+79161234567): spaces, brackets, dots and dashes are dropped, and a Russian
-- national number (11 digits from 8 or 7) gets +7. A phone that is still no E.164 number does not reject
-- the customer: the customer is loaded without it, and the quarantine keeps the row's key, the field and
-- the value (reason invalid_phone), as lifecycle.delivery.sms.normalize_phone does in Python.
-- A reason may name the offending column after a colon ('too_long:email'); the quarantine stores the reason
-- without it and names the column in the detail. Versions are ranked among valid rows only, so a rejected
-- row (an updated_at in 2099, say) never hides a valid version of the same customer.
DROP TABLE IF EXISTS stage_customers;

CREATE TEMP TABLE stage_customers AS
WITH batch AS (
    SELECT
        s.*,
        ROW_NUMBER() OVER (
            PARTITION BY s.customer_id, s.updated_at, s.loaded_at ORDER BY s.email
        ) AS copy_no,
        REGEXP_REPLACE(s.phone, '[[:space:]().-]', '', 'g') AS phone_clean
    FROM shop.customers AS s
    WHERE
        (s.loaded_at >= :window_start AND s.loaded_at < :window_end)
        OR s.loaded_at >= :loaded_at_limit
),

checked AS (
    SELECT
        b.*,
        CASE
            WHEN b.customer_id IS NULL THEN 'missing_customer_id'
            WHEN b.registered_at IS NULL THEN 'missing_registered_at'
            WHEN b.updated_at IS NULL THEN 'missing_timestamp'
            WHEN b.loaded_at >= :loaded_at_limit THEN 'future_loaded_at'
            WHEN b.updated_at > b.loaded_at + :clock_skew THEN 'future_updated_at'
            WHEN b.timezone IS NULL OR z.timezone IS NULL THEN 'unknown_timezone'
            WHEN b.registered_at > b.loaded_at + :clock_skew THEN 'future_timestamp'
            WHEN b.registered_at < :earliest_business_date THEN 'absurd_timestamp'
            WHEN LENGTH(b.email) > :max_length_email THEN 'too_long:email'
            WHEN LENGTH(b.phone) > :max_length_phone THEN 'too_long:phone'
            WHEN LENGTH(b.first_name) > :max_length_name THEN 'too_long:first_name'
            WHEN LENGTH(b.last_name) > :max_length_name THEN 'too_long:last_name'
            WHEN LENGTH(b.city) > :max_length_name THEN 'too_long:city'
            WHEN LENGTH(b.gender) > :max_length_code THEN 'too_long:gender'
            WHEN LENGTH(b.signup_source) > :max_length_code THEN 'too_long:signup_source'
            WHEN REGEXP_REPLACE(b.email, '[[:cntrl:]]', '') <> b.email THEN 'control_character:email'
            WHEN REGEXP_REPLACE(b.phone, '[[:cntrl:]]', '') <> b.phone THEN 'control_character:phone'
            WHEN REGEXP_REPLACE(b.first_name, '[[:cntrl:]]', '') <> b.first_name
                THEN 'control_character:first_name'
            WHEN REGEXP_REPLACE(b.last_name, '[[:cntrl:]]', '') <> b.last_name
                THEN 'control_character:last_name'
            WHEN b.copy_no > 1 THEN 'duplicate'
        END AS reject_reason,
        CASE
            WHEN b.phone_clean <> '' AND REGEXP_REPLACE(b.phone_clean, '^[78][0-9]{10}$', '') = ''
                THEN '+7' || SUBSTR(b.phone_clean, 2)
            ELSE b.phone_clean
        END AS phone_candidate,
        c.updated_at AS stored_updated_at,
        c.loaded_at AS stored_loaded_at
    FROM batch AS b
    LEFT JOIN crm.ref_timezones AS z ON b.timezone = z.timezone
    LEFT JOIN crm.customers AS c ON b.customer_id = c.customer_id
),

ranked AS (
    SELECT
        checked.*,
        ROW_NUMBER() OVER (
            PARTITION BY checked.customer_id, checked.copy_no, checked.reject_reason IS NULL
            ORDER BY checked.updated_at DESC, checked.loaded_at DESC
        ) AS version_rank
    FROM checked
)

SELECT
    ranked.*,
    CASE
        WHEN
            ranked.phone_candidate <> ''
            AND REGEXP_REPLACE(ranked.phone_candidate, '^[+][1-9][0-9]{7,14}$', '') = ''
            THEN ranked.phone_candidate
    END AS phone_e164,
    CASE
        WHEN ranked.reject_reason IS NOT NULL THEN 'rejected'
        WHEN
            ranked.stored_updated_at = ranked.updated_at AND ranked.stored_loaded_at = ranked.loaded_at
            THEN 'seen'
        WHEN ranked.version_rank > 1 OR ranked.stored_updated_at > ranked.updated_at THEN 'stale'
        ELSE 'new'
    END AS outcome
FROM ranked;

INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.customers' AS source_table,
    COALESCE(
        CAST(customer_id AS VARCHAR),
        'no customer_id: ' || LEFT(COALESCE(email, phone, 'no contact'), 100)
    )
    || '#' || CAST(copy_no AS VARCHAR) AS source_key,
    loaded_at,
    SPLIT_PART(reject_reason, ':', 1) AS reason,
    LEFT(
        COALESCE('field=' || NULLIF(SPLIT_PART(reject_reason, ':', 2), '') || ' ', '')
        || 'email=' || COALESCE(email, 'NULL')
        || ' timezone=' || COALESCE(timezone, 'NULL')
        || ' registered_at=' || COALESCE(CAST(registered_at AS VARCHAR), 'NULL')
        || ' updated_at=' || COALESCE(CAST(updated_at AS VARCHAR), 'NULL'),
        500
    ) AS detail,
    :now AS quarantined_at
FROM stage_customers
WHERE outcome = 'rejected'
ON CONFLICT DO NOTHING;

-- A loaded customer whose phone is no E.164 number: loaded without it, the value kept here.
INSERT INTO crm.quarantine (source_table, source_key, loaded_at, reason, detail, quarantined_at)
SELECT
    'shop.customers' AS source_table,
    CAST(customer_id AS VARCHAR) || '#' || CAST(copy_no AS VARCHAR) AS source_key,
    loaded_at,
    'invalid_phone' AS reason,
    LEFT(
        'field=phone phone=' || phone || ' (not an E.164 number: the customer is loaded without a phone)',
        500
    ) AS detail,
    :now AS quarantined_at
FROM stage_customers
WHERE outcome = 'new' AND phone_e164 IS NULL AND TRIM(phone) <> ''
ON CONFLICT DO NOTHING;

INSERT INTO crm.customers (
    customer_id, email, phone, first_name, last_name, gender, birthday, city, timezone, registered_at,
    signup_source, email_consent, email_consent_at, push_consent, push_consent_at, sms_consent,
    sms_consent_at, updated_at, loaded_at
)
SELECT
    customer_id,
    LOWER(TRIM(email)) AS email,
    phone_e164 AS phone,
    first_name,
    last_name,
    gender,
    birthday,
    city,
    timezone,
    registered_at,
    signup_source,
    COALESCE(email_consent, FALSE) AS email_consent,
    email_consent_at,
    COALESCE(push_consent, FALSE) AS push_consent,
    push_consent_at,
    COALESCE(sms_consent, FALSE) AS sms_consent,
    sms_consent_at,
    updated_at,
    loaded_at
FROM stage_customers
WHERE outcome = 'new'
ON CONFLICT (customer_id) DO UPDATE SET
    email = excluded.email,
    phone = excluded.phone,
    first_name = excluded.first_name,
    last_name = excluded.last_name,
    gender = excluded.gender,
    birthday = excluded.birthday,
    city = excluded.city,
    timezone = excluded.timezone,
    registered_at = excluded.registered_at,
    signup_source = excluded.signup_source,
    email_consent = excluded.email_consent,
    email_consent_at = excluded.email_consent_at,
    push_consent = excluded.push_consent,
    push_consent_at = excluded.push_consent_at,
    sms_consent = excluded.sms_consent,
    sms_consent_at = excluded.sms_consent_at,
    updated_at = excluded.updated_at,
    loaded_at = excluded.loaded_at;

INSERT INTO touched_customers (customer_id)
SELECT customer_id FROM stage_customers
WHERE outcome = 'new'
ON CONFLICT DO NOTHING;

SELECT
    COUNT(*) AS rows_read,
    COALESCE(SUM(CASE WHEN outcome = 'new' THEN 1 ELSE 0 END), 0) AS rows_loaded,
    COALESCE(SUM(CASE WHEN outcome = 'rejected' THEN 1 ELSE 0 END), 0) AS rows_quarantined,
    0 AS rows_deferred
FROM stage_customers;
