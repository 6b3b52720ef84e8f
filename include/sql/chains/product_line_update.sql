-- Product line update: a new generation of a product line launches; customers who own an older generation
-- of that line (and none of the new one) are told.
-- Inputs: crm.products (product_line, generation, launched_at), crm.orders, crm.order_items,
--   crm.ref_order_statuses.
-- Output: customer_id, trigger_key ('line-<line>-<generation>'), triggered_at (the launch day, 00:00 UTC),
--   product_id (a product of the new generation), product_line, new_generation, owned_generation,
--   product_ids (every product of the line: buying any of them ends the chain), trigger_value (the new
--   product's price).
-- Parameters: :since, :as_of (launches in (since, as_of]).
WITH launches AS (
    SELECT
        p.product_line,
        p.generation,
        CAST(MIN(p.launched_at) AS TIMESTAMP) AS launched_at,
        MIN(p.product_id) AS product_id
    FROM crm.products AS p
    WHERE p.product_line IS NOT NULL AND p.generation IS NOT NULL AND p.launched_at IS NOT NULL
    GROUP BY p.product_line, p.generation
    HAVING CAST(MIN(p.launched_at) AS TIMESTAMP) > :since AND CAST(MIN(p.launched_at) AS TIMESTAMP) <= :as_of
),

owners AS (
    SELECT
        o.customer_id,
        p.product_line,
        MAX(p.generation) AS owned_generation
    FROM crm.orders AS o
    INNER JOIN crm.ref_order_statuses AS st ON o.status = st.status
    INNER JOIN crm.order_items AS oi ON o.order_id = oi.order_id
    INNER JOIN crm.products AS p ON oi.product_id = p.product_id
    WHERE
        st.counts_as_purchase
        AND o.ordered_at <= :as_of
        AND p.product_line IN (SELECT l.product_line FROM launches AS l)
    GROUP BY o.customer_id, p.product_line
)

SELECT
    ow.customer_id,
    'line-' || l.product_line || '-' || CAST(l.generation AS VARCHAR) AS trigger_key,
    l.launched_at AS triggered_at,
    l.product_id,
    l.product_line,
    l.generation AS new_generation,
    ow.owned_generation,
    (
        SELECT STRING_AGG(CAST(x.product_id AS VARCHAR), ',' ORDER BY x.product_id)
        FROM crm.products AS x
        WHERE x.product_line = l.product_line
    ) AS product_ids,
    np.price AS trigger_value
FROM launches AS l
INNER JOIN owners AS ow ON l.product_line = ow.product_line AND l.generation > ow.owned_generation
INNER JOIN crm.products AS np ON l.product_id = np.product_id;
