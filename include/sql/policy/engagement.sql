-- Steps of the run's chain instances whose message was opened or clicked (for "push only if the email got
-- no action" conditions).
-- Inputs: crm.message_events, crm.send_ledger, crm.due_steps. Outputs: instance_id, step_id.
-- Parameters: :run_key.
SELECT DISTINCT
    l.instance_id,
    l.step_id
FROM crm.message_events AS e
INNER JOIN crm.send_ledger AS l ON e.send_key = l.send_key
WHERE
    e.event_type IN ('open', 'click')
    AND l.instance_id IN (
        SELECT d.instance_id FROM crm.due_steps AS d
        WHERE d.run_key = :run_key
    )
