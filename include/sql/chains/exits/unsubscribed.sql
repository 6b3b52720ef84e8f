-- Exit check 'unsubscribed', for the run's chains that turn it on: the customer unsubscribed or complained
-- after entering (a suppression row), reason 'unsubscribed'; or holds no consent on any channel, reason
-- 'no_consent'.
-- Inputs: crm.chain_run_members (exit_unsubscribed), crm.chain_instances, crm.suppressions, crm.customers.
-- Output: crm.chain_instances (status 'exited', exit_reason, exited_at, exited_run_key).
-- Parameters: :as_of, :run_key, :now.
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = CASE
        WHEN EXISTS (
            SELECT 1
            FROM crm.suppressions AS s
            WHERE
                s.customer_id = crm.chain_instances.customer_id
                AND s.reason IN ('unsubscribe', 'complaint')
                AND s.created_at <= :as_of
        ) THEN 'unsubscribed'
        ELSE 'no_consent'
    END,
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE
    status = 'active'
    AND chain_id IN (
        SELECT m.chain_id FROM crm.chain_run_members AS m
        WHERE m.run_key = :run_key AND m.exit_unsubscribed
    )
    AND (
        EXISTS (
            SELECT 1
            FROM crm.suppressions AS s
            WHERE
                s.customer_id = crm.chain_instances.customer_id
                AND s.reason IN ('unsubscribe', 'complaint')
                AND s.created_at >= crm.chain_instances.entered_at
                AND s.created_at <= :as_of
        )
        OR EXISTS (
            SELECT 1
            FROM crm.customers AS c
            WHERE
                c.customer_id = crm.chain_instances.customer_id
                AND NOT (c.email_consent OR c.push_consent OR c.sms_consent)
        )
    );
