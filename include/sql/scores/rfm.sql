-- RFM digits and segment of every customer with at least one purchase up to the end of the as-of date.
-- Inputs: crm.orders, crm.ref_order_statuses (counts_as_purchase says which statuses are purchases; returned
--   and cancelled orders are not), crm.rfm_segments (the 27 names).
-- Outputs: one row per customer: customer_id, recency_days (days from the last purchase to the as-of date),
--   frequency (purchases), avg_check (the shop's currency per purchase), r, f, m, rfm_code, segment_ru,
--   segment_en, and the cut points in force (r_cut_1 .. m_cut_2, the same on every row).
-- Parameters: :as_of (date; purchases before the following midnight count),
--   :purchase_unit ('customer_day': a customer's purchased orders of one calendar day are one purchase,
--   their amounts summed; 'order': each order is one), :method ('fixed' or 'quantile', for R and F),
--   :check_method ('fixed' or 'quantile', for M),
--   :recency_cut_1, :recency_cut_2 (days), :frequency_cut_1, :frequency_cut_2 (purchases),
--   :check_cut_1, :check_cut_2 (amounts; fixed check method only), :quantile_1, :quantile_2 (fractions).
-- Rule: a value up to cut 1 gets digit 1, up to cut 2 digit 2, above it digit 3; recency is reversed (fewer
-- days is better). With method 'quantile' the cut points are those quantiles of the customers' own values.
WITH purchases AS (
    SELECT
        o.customer_id,
        MAX(o.ordered_at) AS ordered_at,
        SUM(o.total_amount) AS total_amount
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS s ON o.status = s.status
    WHERE s.counts_as_purchase AND o.ordered_at < CAST(:as_of AS DATE) + 1
    GROUP BY
        o.customer_id,
        CAST(o.ordered_at AS DATE),
        CASE WHEN :purchase_unit = 'order' THEN o.order_id END
),

per_customer AS (
    SELECT
        customer_id,
        CAST(:as_of AS DATE) - CAST(MAX(ordered_at) AS DATE) AS recency_days,
        COUNT(*) AS frequency,
        AVG(total_amount) AS avg_check
    FROM purchases
    GROUP BY customer_id
),

cuts AS (
    SELECT
        CASE
            WHEN :method = 'quantile'
                THEN PERCENTILE_CONT(:quantile_1) WITHIN GROUP (ORDER BY recency_days)
            ELSE :recency_cut_1
        END AS r_cut_1,
        CASE
            WHEN :method = 'quantile'
                THEN PERCENTILE_CONT(:quantile_2) WITHIN GROUP (ORDER BY recency_days)
            ELSE :recency_cut_2
        END AS r_cut_2,
        CASE
            WHEN :method = 'quantile'
                THEN PERCENTILE_CONT(:quantile_1) WITHIN GROUP (ORDER BY frequency)
            ELSE :frequency_cut_1
        END AS f_cut_1,
        CASE
            WHEN :method = 'quantile'
                THEN PERCENTILE_CONT(:quantile_2) WITHIN GROUP (ORDER BY frequency)
            ELSE :frequency_cut_2
        END AS f_cut_2,
        CASE
            WHEN :check_method = 'quantile'
                THEN PERCENTILE_CONT(:quantile_1) WITHIN GROUP (ORDER BY avg_check)
            ELSE :check_cut_1
        END AS m_cut_1,
        CASE
            WHEN :check_method = 'quantile'
                THEN PERCENTILE_CONT(:quantile_2) WITHIN GROUP (ORDER BY avg_check)
            ELSE :check_cut_2
        END AS m_cut_2
    FROM per_customer
),

digits AS (
    SELECT
        p.customer_id,
        p.recency_days,
        p.frequency,
        p.avg_check,
        c.r_cut_1,
        c.r_cut_2,
        c.f_cut_1,
        c.f_cut_2,
        c.m_cut_1,
        c.m_cut_2,
        CASE WHEN p.recency_days <= c.r_cut_1 THEN 3 WHEN p.recency_days <= c.r_cut_2 THEN 2 ELSE 1 END AS r,
        CASE WHEN p.frequency <= c.f_cut_1 THEN 1 WHEN p.frequency <= c.f_cut_2 THEN 2 ELSE 3 END AS f,
        CASE WHEN p.avg_check <= c.m_cut_1 THEN 1 WHEN p.avg_check <= c.m_cut_2 THEN 2 ELSE 3 END AS m
    FROM per_customer AS p
    CROSS JOIN cuts AS c
)

SELECT
    d.customer_id,
    d.recency_days,
    d.frequency,
    d.avg_check,
    d.r,
    d.f,
    d.m,
    seg.rfm_code,
    seg.name_ru AS segment_ru,
    seg.name_en AS segment_en,
    d.r_cut_1,
    d.r_cut_2,
    d.f_cut_1,
    d.f_cut_2,
    d.m_cut_1,
    d.m_cut_2
FROM digits AS d
INNER JOIN crm.rfm_segments AS seg ON d.r = seg.r AND d.f = seg.f AND d.m = seg.m
ORDER BY d.customer_id
