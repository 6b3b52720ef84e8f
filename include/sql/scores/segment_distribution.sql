-- Customers per RFM segment on one scored date, with the mean churn probability and LTV of each.
-- Inputs: crm.customer_scores, crm.rfm_segments.
-- Outputs: rfm_code, segment_en, segment_ru, customers, share, mean_churn_probability, mean_ltv.
-- Parameters: :as_of.
SELECT
    seg.rfm_code,
    seg.name_en AS segment_en,
    seg.name_ru AS segment_ru,
    COUNT(s.customer_id) AS customers,
    CAST(COUNT(s.customer_id) AS DOUBLE PRECISION)
    / NULLIF(SUM(COUNT(s.customer_id)) OVER (), 0) AS share,
    AVG(s.churn_probability) AS mean_churn_probability,
    AVG(s.ltv) AS mean_ltv
FROM crm.rfm_segments AS seg
LEFT JOIN crm.customer_scores AS s ON seg.rfm_code = s.rfm_code AND s.as_of = :as_of
GROUP BY seg.rfm_code, seg.name_en, seg.name_ru
ORDER BY seg.rfm_code DESC
