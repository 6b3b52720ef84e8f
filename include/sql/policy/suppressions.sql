-- Suppressed addresses of the customers of a run, matched by customer id or by the address itself.
-- Inputs: crm.suppressions, crm.customers, crm.due_steps. Outputs: customer_id, channel, reason.
-- Parameters: :run_key.
SELECT DISTINCT
    c.customer_id,
    s.channel,
    s.reason
FROM crm.suppressions AS s
INNER JOIN crm.customers AS c
    ON
        s.customer_id = c.customer_id
        OR (s.channel = 'email' AND s.address = c.email)
        OR (s.channel = 'sms' AND s.address = c.phone)
WHERE c.customer_id IN (
    SELECT d.customer_id FROM crm.due_steps AS d
    WHERE d.run_key = :run_key
)
