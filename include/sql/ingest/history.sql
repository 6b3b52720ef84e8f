-- What the ingest has loaded so far, so that a command finding no purchases can say precisely why.
-- Inputs: crm.ingest_runs, crm.orders, crm.ref_order_statuses.
-- Outputs: one row: runs (ingest runs recorded), last_finished_at, orders_read, orders_quarantined (rows of
--          shop.orders over all runs), orders_stored (rows of crm.orders), purchases_stored (of them, orders
--          whose status counts as a purchase), first_purchase (NULL without one). Parameters: none.
WITH runs AS (
    SELECT
        COUNT(DISTINCT run_key) AS runs,
        MAX(finished_at) AS last_finished_at,
        COALESCE(SUM(CASE WHEN source_table = 'shop.orders' THEN rows_read ELSE 0 END), 0) AS orders_read,
        COALESCE(SUM(CASE WHEN source_table = 'shop.orders' THEN rows_quarantined ELSE 0 END), 0)
            AS orders_quarantined
    FROM crm.ingest_runs
),

stored AS (
    SELECT
        COUNT(*) AS orders_stored,
        COALESCE(SUM(CASE WHEN s.counts_as_purchase THEN 1 ELSE 0 END), 0) AS purchases_stored,
        MIN(CASE WHEN s.counts_as_purchase THEN o.ordered_at END) AS first_purchase
    FROM crm.orders AS o
    LEFT JOIN crm.ref_order_statuses AS s ON o.status = s.status
)

SELECT
    runs.runs,
    runs.last_finished_at,
    runs.orders_read,
    runs.orders_quarantined,
    stored.orders_stored,
    stored.purchases_stored,
    stored.first_purchase
FROM runs
CROSS JOIN stored
