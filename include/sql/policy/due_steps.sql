-- The due steps of one chains run with what the policy needs to know about each customer.
-- Inputs: crm.due_steps, crm.customers, crm.push_tokens.
-- Outputs: every crm.due_steps column plus timezone, email, phone, email_consent, push_consent,
--          sms_consent, has_push_token (customers unknown to crm.customers come with NULLs).
-- Parameters: :run_key.
SELECT
    d.*,
    c.timezone,
    c.email,
    c.phone,
    c.email_consent,
    c.push_consent,
    c.sms_consent,
    EXISTS(
        SELECT 1 FROM crm.push_tokens AS t
        WHERE t.customer_id = d.customer_id AND t.is_active
    ) AS has_push_token
FROM crm.due_steps AS d
LEFT JOIN crm.customers AS c ON d.customer_id = c.customer_id
WHERE d.run_key = :run_key
