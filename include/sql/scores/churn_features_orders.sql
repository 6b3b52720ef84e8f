-- Churn and LTV features from orders, as of the end of a snapshot date: one row per customer with at least
-- one purchase by then. Orders after the snapshot are never read, so a past snapshot sees only its past.
-- Inputs: crm.orders, crm.ref_order_statuses (counts_as_purchase; status 'returned' counts as a return),
--   crm.customers (registered_at, may lack the customer).
-- Outputs: customer_id; recency_days, tenure_days (days from the first purchase), registered_days,
--   frequency, purchases_90d, purchases_365d, monetary_total, revenue_365d, avg_check, max_check,
--   repeat_avg_check (average of the purchases after the first, NULL with one purchase),
--   mean_interval_days (mean days between purchases, NULL with one purchase), overdue_ratio (recency over
--   that mean interval, NULL with one purchase), returns, return_share, discount_share (discounts over
--   pre-discount value), promo_share (purchases with a promo code), online_share (purchases online).
-- Parameters: :as_of (date; orders before the following midnight count).
-- Note: an order's status is its current one (the source keeps no status history), so a return made after
-- a past snapshot is already visible in that snapshot.
WITH orders_to_date AS (
    SELECT
        o.customer_id,
        o.channel,
        o.total_amount,
        o.discount_amount,
        o.promo_code,
        o.status,
        s.counts_as_purchase AS is_purchase,
        CAST(:as_of AS DATE) - CAST(o.ordered_at AS DATE) AS days_ago,
        ROW_NUMBER() OVER (
            PARTITION BY o.customer_id, s.counts_as_purchase ORDER BY o.ordered_at, o.order_id
        ) AS order_no
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS s ON o.status = s.status
    WHERE o.ordered_at < CAST(:as_of AS DATE) + 1
),

per_customer AS (
    SELECT
        customer_id,
        MIN(CASE WHEN is_purchase THEN days_ago END) AS recency_days,
        MAX(CASE WHEN is_purchase THEN days_ago END) AS tenure_days,
        SUM(CASE WHEN is_purchase THEN 1 ELSE 0 END) AS frequency,
        SUM(CASE WHEN is_purchase AND days_ago < 90 THEN 1 ELSE 0 END) AS purchases_90d,
        SUM(CASE WHEN is_purchase AND days_ago < 365 THEN 1 ELSE 0 END) AS purchases_365d,
        SUM(CASE WHEN is_purchase THEN total_amount ELSE 0 END) AS monetary_total,
        SUM(CASE WHEN is_purchase AND days_ago < 365 THEN total_amount ELSE 0 END) AS revenue_365d,
        MAX(CASE WHEN is_purchase THEN total_amount END) AS max_check,
        SUM(CASE WHEN is_purchase AND order_no = 1 THEN total_amount ELSE 0 END) AS first_check,
        SUM(CASE WHEN is_purchase THEN discount_amount ELSE 0 END) AS discount_total,
        SUM(CASE WHEN is_purchase AND promo_code IS NOT NULL THEN 1 ELSE 0 END) AS promo_purchases,
        SUM(CASE WHEN is_purchase AND channel = 'online' THEN 1 ELSE 0 END) AS online_purchases,
        SUM(CASE WHEN status = 'returned' THEN 1 ELSE 0 END) AS returns
    FROM orders_to_date
    GROUP BY customer_id
)

SELECT
    p.customer_id,
    p.recency_days,
    p.tenure_days,
    CAST(:as_of AS DATE) - CAST(c.registered_at AS DATE) AS registered_days,
    p.frequency,
    p.purchases_90d,
    p.purchases_365d,
    p.monetary_total,
    p.revenue_365d,
    p.monetary_total / p.frequency AS avg_check,
    p.max_check,
    CASE
        WHEN p.frequency > 1 THEN (p.monetary_total - p.first_check) / (p.frequency - 1)
    END AS repeat_avg_check,
    CASE
        WHEN p.frequency > 1 THEN CAST(p.tenure_days - p.recency_days AS DOUBLE PRECISION) / (p.frequency - 1)
    END AS mean_interval_days,
    CASE
        WHEN p.frequency > 1 AND p.tenure_days > p.recency_days
            THEN
                CAST(p.recency_days * (p.frequency - 1) AS DOUBLE PRECISION)
                / (p.tenure_days - p.recency_days)
    END AS overdue_ratio,
    p.returns,
    CAST(p.returns AS DOUBLE PRECISION) / (p.frequency + p.returns) AS return_share,
    CASE
        WHEN p.monetary_total + p.discount_total > 0
            THEN p.discount_total / (p.monetary_total + p.discount_total)
        ELSE 0
    END AS discount_share,
    CAST(p.promo_purchases AS DOUBLE PRECISION) / p.frequency AS promo_share,
    CAST(p.online_purchases AS DOUBLE PRECISION) / p.frequency AS online_share
FROM per_customer AS p
LEFT JOIN crm.customers AS c ON p.customer_id = c.customer_id
WHERE p.frequency > 0
ORDER BY p.customer_id
