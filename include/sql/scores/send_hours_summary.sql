-- What one date's send-hour learning found: customers with a best hour of their own, the responses counted
-- and the shop's best local hour (NULL when nobody responded).
-- Inputs: crm.customer_send_hours, crm.send_hour_profiles. Parameters: :as_of.
WITH shop AS (
    SELECT
        hour,
        responses,
        probability
    FROM crm.send_hour_profiles
    WHERE as_of = :as_of AND segment = '*'
)

SELECT
    (
        SELECT COUNT(*) FROM crm.customer_send_hours
        WHERE as_of = :as_of
    ) AS customers,
    (SELECT SUM(responses) FROM shop) AS responses,
    (
        SELECT hour FROM shop
        WHERE responses > 0
        ORDER BY probability DESC, hour ASC
        LIMIT 1
    ) AS shop_best_hour
