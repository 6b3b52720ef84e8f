-- Message engagement features as of the end of a snapshot date, over the 90 days before it. Optional source:
-- it runs only when the tables below exist with these columns; otherwise, and for customers with no
-- messages, the features take the neutral value 0.
-- Inputs: crm.message_events (send_key, event_type: delivered/open/click/unsubscribe/..., occurred_at),
--   crm.send_ledger (send_key -> customer_id).
-- Outputs: customer_id, messages_delivered_90d, messages_opened_90d, messages_clicked_90d, unsubscribed_90d.
-- Parameters: :as_of (date; feedback before the following midnight counts).
--   :sample_every (1: every customer; k: about one in k, those whose customer_id hashes (times 2654435761
--   modulo 2^31 - 1) to :sample_part modulo k: the same customers in every query, snapshot and week; the k
--   parts 0 to k - 1 together are every customer).
SELECT
    l.customer_id,
    SUM(CASE WHEN e.event_type = 'delivered' THEN 1 ELSE 0 END) AS messages_delivered_90d,
    SUM(CASE WHEN e.event_type = 'open' THEN 1 ELSE 0 END) AS messages_opened_90d,
    SUM(CASE WHEN e.event_type = 'click' THEN 1 ELSE 0 END) AS messages_clicked_90d,
    MAX(CASE WHEN e.event_type = 'unsubscribe' THEN 1 ELSE 0 END) AS unsubscribed_90d
FROM crm.message_events AS e
INNER JOIN crm.send_ledger AS l ON e.send_key = l.send_key
WHERE
    e.occurred_at >= CAST(:as_of AS DATE) - 89
    AND e.occurred_at < CAST(:as_of AS DATE) + 1
    AND (
        :sample_every = 1
        OR MOD(MOD(MOD(l.customer_id, 2147483647) * 2654435761, 2147483647), :sample_every) = :sample_part
    )
GROUP BY l.customer_id
