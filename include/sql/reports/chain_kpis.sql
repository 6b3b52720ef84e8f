-- Chain and step KPIs over a period of send days, from the materialised daily table.
-- Inputs: crm.report_chain_daily. Outputs: chain_id, step_id, channel, messages, sent, failed, delivered,
-- opened, clicked, unsubscribed, bounced, complained, converted, orders/revenue by last and first touch.
-- Parameters: :since_day, :until_day (dates; until exclusive).
SELECT
    chain_id,
    step_id,
    channel,
    SUM(messages) AS messages,
    SUM(sent) AS sent,
    SUM(failed) AS failed,
    SUM(delivered) AS delivered,
    SUM(opened) AS opened,
    SUM(clicked) AS clicked,
    SUM(unsubscribed) AS unsubscribed,
    SUM(bounced) AS bounced,
    SUM(complained) AS complained,
    SUM(converted) AS converted,
    SUM(orders_last_touch) AS orders_last_touch,
    SUM(revenue_last_touch) AS revenue_last_touch,
    SUM(orders_first_touch) AS orders_first_touch,
    SUM(revenue_first_touch) AS revenue_first_touch
FROM crm.report_chain_daily
WHERE sent_day >= :since_day AND sent_day < :until_day
GROUP BY chain_id, step_id, channel
ORDER BY chain_id, step_id, channel
