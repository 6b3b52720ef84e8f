-- The materialised RFM migration matrix whose later date is the latest up to :until_date.
-- Inputs: crm.report_rfm_migration. Outputs: from_date, to_date, from_code ('new' = newly scored), to_code,
-- customers. Parameters: :until_date.
WITH pair AS (
    SELECT
        from_date,
        to_date
    FROM crm.report_rfm_migration
    WHERE to_date <= :until_date
    ORDER BY to_date DESC, from_date ASC
    LIMIT 1
)

SELECT
    m.from_date,
    m.to_date,
    m.from_code,
    m.to_code,
    m.customers
FROM crm.report_rfm_migration AS m
INNER JOIN pair AS p ON m.from_date = p.from_date AND m.to_date = p.to_date
ORDER BY m.from_code, m.to_code
