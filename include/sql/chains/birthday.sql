-- Birthday: :days_before days before a customer's birthday (29 February counts as 28 February in other
-- years); steps follow up to the day itself.
-- Inputs: crm.customers (birthday).
-- Output: customer_id, trigger_key ('birthday-<year>'), triggered_at (00:00 UTC, :days_before days before
--   the birthday), birthday_on.
-- Parameters: :since, :as_of (triggers in (since, as_of]), :days_before.
WITH years AS (
    SELECT CAST(EXTRACT(YEAR FROM CAST(:as_of AS TIMESTAMP)) AS INTEGER) + y.shift AS calendar_year
    FROM (VALUES (-1), (0), (1)) AS y (shift)
),

birthdays AS (
    SELECT
        c.customer_id,
        y.calendar_year,
        MAKE_DATE(
            y.calendar_year,
            CAST(EXTRACT(MONTH FROM c.birthday) AS INTEGER),
            CASE
                WHEN EXTRACT(MONTH FROM c.birthday) = 2 AND EXTRACT(DAY FROM c.birthday) = 29 THEN 28
                ELSE CAST(EXTRACT(DAY FROM c.birthday) AS INTEGER)
            END
        ) AS birthday_on
    FROM crm.customers AS c
    CROSS JOIN years AS y
    WHERE c.birthday IS NOT NULL
)

SELECT
    customer_id,
    'birthday-' || CAST(calendar_year AS VARCHAR) AS trigger_key,
    CAST(birthday_on - CAST(:days_before AS INTEGER) AS TIMESTAMP) AS triggered_at,
    birthday_on
FROM birthdays
WHERE
    CAST(birthday_on - CAST(:days_before AS INTEGER) AS TIMESTAMP) > :since
    AND CAST(birthday_on - CAST(:days_before AS INTEGER) AS TIMESTAMP) <= :as_of;
