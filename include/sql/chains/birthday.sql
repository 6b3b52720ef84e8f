-- Birthday: :days_before days before a customer's birthday (29 February counts as 28 February in other
-- years); steps follow up to the day itself.
-- Inputs: crm.customers (birthday).
-- Output: customer_id, trigger_key ('birthday-<year>'), triggered_at (00:00 UTC, :days_before days before
--   the birthday), birthday_on.
-- Parameters: :since, :as_of (triggers in (since, as_of]), :days_before.
-- A trigger falls on a midnight, so the query starts from the midnights in the window (none in most hourly
-- runs) and reads only the customers born on the matching day of the year (PostgreSQL: by the index
-- customers_birthday_day_idx on the month and the day), not every customer's birthday.
WITH trigger_days AS (
    SELECT CAST(m.midnight AS DATE) AS trigger_on
    FROM
        GENERATE_SERIES(
            CAST(CAST(:since AS DATE) AS TIMESTAMP) + INTERVAL '1 day',
            CAST(:as_of AS TIMESTAMP),
            INTERVAL '1 day'
        ) AS m (midnight)
),

birthdays AS (
    SELECT trigger_on + CAST(:days_before AS INTEGER) AS birthday_on
    FROM trigger_days
),

born_on AS (
    SELECT
        birthday_on,
        EXTRACT(MONTH FROM birthday_on) AS birth_month,
        EXTRACT(DAY FROM birthday_on) AS birth_day
    FROM birthdays
    UNION ALL
    -- 28 February of a year without a 29th is also the birthday of those born on 29 February.
    SELECT
        birthday_on,
        2 AS birth_month,
        29 AS birth_day
    FROM birthdays
    WHERE
        EXTRACT(MONTH FROM birthday_on) = 2
        AND EXTRACT(DAY FROM birthday_on) = 28
        AND EXTRACT(MONTH FROM birthday_on + 1) = 3
)

SELECT
    c.customer_id,
    'birthday-' || CAST(CAST(EXTRACT(YEAR FROM b.birthday_on) AS INTEGER) AS VARCHAR) AS trigger_key,
    CAST(b.birthday_on - CAST(:days_before AS INTEGER) AS TIMESTAMP) AS triggered_at,
    b.birthday_on
FROM born_on AS b
INNER JOIN crm.customers AS c
    ON
        EXTRACT(MONTH FROM c.birthday) = b.birth_month
        AND EXTRACT(DAY FROM c.birthday) = b.birth_day;
