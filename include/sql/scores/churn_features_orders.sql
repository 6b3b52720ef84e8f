-- Churn and LTV features from orders, as of the end of a snapshot date: one row per customer with at least
-- one purchase by then. Orders after the snapshot are never read, so a past snapshot sees only its past.
-- A purchase is a basket: with :purchase_unit 'customer_day' a customer's purchased orders of one calendar
-- day are one purchase (split order lines and an item added later that day do not inflate frequency), with
-- 'order' every purchased order is one.
-- Inputs: crm.orders, crm.ref_order_statuses (counts_as_purchase; status 'returned' counts as a return),
--   crm.customers (registered_at, may lack the customer).
-- Outputs: customer_id; recency_days, tenure_days (days from the first purchase), registered_days,
--   frequency, purchases_90d, purchases_365d, monetary_total, revenue_365d, avg_check, max_check,
--   repeat_avg_check (average of the purchases after the first, NULL with one purchase),
--   mean_interval_days (mean days between purchases, NULL with one purchase), overdue_ratio (recency over
--   that mean interval, NULL with one purchase), overdue_days (recency minus the mean interval),
--   last_interval_days (days between the last two purchases), interval_trend (the last interval over the
--   mean of the earlier ones: above 1 the customer is slowing down; NULL under three purchases),
--   interval_cv (standard deviation over mean of the intervals: how regular the rhythm is; NULL under three),
--   returns, return_share, discount_share (discounts over pre-discount value), promo_share (purchases with
--   a promo code), online_share (purchases with an online order).
-- Parameters: :as_of (date; orders before the following midnight count), :purchase_unit ('customer_day' or
--   'order').
--   :sample_every (1: every customer; k: about one in k, those whose customer_id hashes (times 2654435761
--   modulo 2^31 - 1) to :sample_part modulo k: the same customers in every query, snapshot and week; the k
--   parts 0 to k - 1 together are every customer).
-- Note: an order's status is its current one (the source keeps no status history), so a return made after
-- a past snapshot is already visible in that snapshot.
WITH orders_to_date AS (
    SELECT
        o.order_id,
        o.customer_id,
        o.channel,
        o.total_amount,
        o.discount_amount,
        o.promo_code,
        o.status,
        o.ordered_at,
        s.counts_as_purchase AS is_purchase,
        CAST(:as_of AS DATE) - CAST(o.ordered_at AS DATE) AS days_ago
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS s ON o.status = s.status
    WHERE
        o.ordered_at < CAST(:as_of AS DATE) + 1
        AND (
            :sample_every = 1
            OR MOD(MOD(MOD(o.customer_id, 2147483647) * 2654435761, 2147483647), :sample_every) = :sample_part
        )
),

baskets AS (
    SELECT
        customer_id,
        days_ago,
        MIN(ordered_at) AS ordered_at,
        MIN(order_id) AS first_order_id,
        SUM(total_amount) AS amount,
        SUM(discount_amount) AS discount,
        MAX(CASE WHEN promo_code IS NOT NULL THEN 1 ELSE 0 END) AS promo,
        MAX(CASE WHEN channel = 'online' THEN 1 ELSE 0 END) AS online
    FROM orders_to_date
    WHERE is_purchase
    GROUP BY customer_id, days_ago, CASE WHEN :purchase_unit = 'order' THEN order_id END
),

numbered AS (
    SELECT
        customer_id,
        days_ago,
        amount,
        discount,
        promo,
        online,
        ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY ordered_at, first_order_id) AS basket_no,
        ROW_NUMBER() OVER (
            PARTITION BY customer_id ORDER BY ordered_at DESC, first_order_id DESC
        ) AS newest_no,
        LAG(days_ago) OVER (
            PARTITION BY customer_id ORDER BY ordered_at, first_order_id
        ) - days_ago AS gap_days
    FROM baskets
),

per_customer AS (
    SELECT
        customer_id,
        MIN(days_ago) AS recency_days,
        MAX(days_ago) AS tenure_days,
        COUNT(*) AS frequency,
        SUM(CASE WHEN days_ago < 90 THEN 1 ELSE 0 END) AS purchases_90d,
        SUM(CASE WHEN days_ago < 365 THEN 1 ELSE 0 END) AS purchases_365d,
        SUM(amount) AS monetary_total,
        SUM(CASE WHEN days_ago < 365 THEN amount ELSE 0 END) AS revenue_365d,
        MAX(amount) AS max_check,
        SUM(CASE WHEN basket_no = 1 THEN amount ELSE 0 END) AS first_check,
        SUM(discount) AS discount_total,
        SUM(promo) AS promo_purchases,
        SUM(online) AS online_purchases,
        MAX(CASE WHEN newest_no = 1 THEN gap_days END) AS last_interval_days,
        STDDEV_SAMP(gap_days) AS interval_std
    FROM numbered
    GROUP BY customer_id
),

returned AS (
    SELECT
        customer_id,
        SUM(CASE WHEN status = 'returned' THEN 1 ELSE 0 END) AS returns,
        SUM(CASE WHEN is_purchase THEN 1 ELSE 0 END) AS purchased_orders
    FROM orders_to_date
    GROUP BY customer_id
),

rhythm AS (
    SELECT
        p.*,
        r.returns,
        r.purchased_orders,
        CASE
            WHEN p.frequency > 1
                THEN CAST(p.tenure_days - p.recency_days AS DOUBLE PRECISION) / (p.frequency - 1)
        END AS mean_interval_days,
        CASE
            WHEN p.frequency > 2
                THEN
                    CAST(p.tenure_days - p.recency_days - p.last_interval_days AS DOUBLE PRECISION)
                    / (p.frequency - 2)
        END AS earlier_interval_days
    FROM per_customer AS p
    INNER JOIN returned AS r ON p.customer_id = r.customer_id
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
    p.mean_interval_days,
    CASE
        WHEN p.mean_interval_days > 0 THEN p.recency_days / p.mean_interval_days
    END AS overdue_ratio,
    p.recency_days - p.mean_interval_days AS overdue_days,
    p.last_interval_days,
    CASE
        WHEN p.earlier_interval_days > 0 THEN p.last_interval_days / p.earlier_interval_days
    END AS interval_trend,
    CASE
        WHEN p.frequency > 2 AND p.mean_interval_days > 0 THEN p.interval_std / p.mean_interval_days
    END AS interval_cv,
    p.returns,
    CAST(p.returns AS DOUBLE PRECISION) / (p.purchased_orders + p.returns) AS return_share,
    CASE
        WHEN p.monetary_total + p.discount_total > 0
            THEN p.discount_total / (p.monetary_total + p.discount_total)
        ELSE 0
    END AS discount_share,
    CAST(p.promo_purchases AS DOUBLE PRECISION) / p.frequency AS promo_share,
    CAST(p.online_purchases AS DOUBLE PRECISION) / p.frequency AS online_share
FROM rhythm AS p
LEFT JOIN crm.customers AS c ON p.customer_id = c.customer_id
ORDER BY p.customer_id
