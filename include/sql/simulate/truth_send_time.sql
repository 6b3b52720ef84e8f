-- Per chain, send-time arm and day of sending: the sent messages of `send_time: optimal` steps with the
-- open and click rates their customers' known probabilities give (the sums of those probabilities: what the
-- send-time lift report estimates from the opens it is told about), the opens and clicks drawn, and the mean
-- open factor of the hour they arrived at.
-- Inputs: crm.send_ledger, sim.truth_messages.
-- Outputs: sim.truth_send_time (replaced).
-- Parameters: none.
DROP TABLE IF EXISTS sim.truth_send_time;

CREATE TABLE sim.truth_send_time AS
SELECT
    l.chain_id,
    l.send_time_arm AS arm,
    CAST(l.sent_at AS DATE) AS sent_day,
    COUNT(*) AS sent,
    SUM(m.open_probability) AS expected_opens,
    SUM(m.click_probability) AS expected_clicks,
    SUM(CASE WHEN m.opened THEN 1 ELSE 0 END) AS opened,
    SUM(CASE WHEN m.clicked THEN 1 ELSE 0 END) AS clicked,
    AVG(m.hour_factor) AS mean_hour_factor
FROM crm.send_ledger AS l
INNER JOIN sim.truth_messages AS m ON l.send_key = m.send_key
WHERE l.send_time_arm IS NOT NULL AND l.state = 'sent'
GROUP BY l.chain_id, l.send_time_arm, CAST(l.sent_at AS DATE)
ORDER BY l.chain_id, l.send_time_arm, CAST(l.sent_at AS DATE);
