-- Days to each customer's expected next order, per RFM segment, on the latest scored date up to :until_date.
-- Inputs: crm.customer_scores (next_order_date: the median of the predicted next purchase, if the customer
--   buys again within the horizon).
-- Outputs: as_of, rfm_code, segment_ru, segment_en, customers, dated (customers with a date), median_days
--   (median days from as_of to the date), within_7, within_30, within_90, later (customers whose date is
--   1-7, 8-30, 31-90 and over 90 days away), mean_churn_probability (how likely they are not to come back at
--   all). Parameters: :until_date.
WITH latest AS (
    SELECT
        s.as_of,
        s.rfm_code,
        s.segment_ru,
        s.segment_en,
        s.churn_probability,
        s.next_order_date - s.as_of AS days_to_next
    FROM crm.customer_scores AS s
    WHERE
        s.as_of = (
            SELECT MAX(l.as_of) FROM crm.customer_scores AS l
            WHERE l.as_of <= :until_date
        )
)

SELECT
    as_of,
    rfm_code,
    MIN(segment_ru) AS segment_ru,
    MIN(segment_en) AS segment_en,
    COUNT(*) AS customers,
    COUNT(days_to_next) AS dated,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY days_to_next) AS median_days,
    SUM(CASE WHEN days_to_next <= 7 THEN 1 ELSE 0 END) AS within_7,
    SUM(CASE WHEN days_to_next > 7 AND days_to_next <= 30 THEN 1 ELSE 0 END) AS within_30,
    SUM(CASE WHEN days_to_next > 30 AND days_to_next <= 90 THEN 1 ELSE 0 END) AS within_90,
    SUM(CASE WHEN days_to_next > 90 THEN 1 ELSE 0 END) AS later,
    AVG(churn_probability) AS mean_churn_probability
FROM latest
GROUP BY as_of, rfm_code
ORDER BY rfm_code DESC
