-- The materialised RFM distribution of the latest scored date up to :until_date.
-- Inputs: crm.report_rfm_distribution. Outputs: as_of, rfm_code, segment_ru, segment_en, customers, share,
-- mean_churn_probability, mean_ltv. Parameters: :until_date.
SELECT
    as_of,
    rfm_code,
    segment_ru,
    segment_en,
    customers,
    share,
    mean_churn_probability,
    mean_ltv
FROM crm.report_rfm_distribution
WHERE
    as_of = (
        SELECT MAX(d.as_of) FROM crm.report_rfm_distribution AS d
        WHERE d.as_of <= :until_date
    )
ORDER BY rfm_code DESC
