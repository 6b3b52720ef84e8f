-- The run's planned decisions become planned messages in the send ledger. A key planned before (by any
-- run) is left as it is, so the same message can never be planned twice.
-- Inputs: crm.decisions, crm.due_steps. Outputs: crm.send_ledger rows in state 'planned' (with the
-- send-time arm of send_time: optimal steps).
-- Parameters: :run_key, :now.
INSERT INTO crm.send_ledger (
    send_key, chain_id, step_id, instance_id, trigger_key, customer_id, channel, message_kind, template,
    variant,
    context,
    planned_at,
    send_after,
    local_send_date,
    expires_at,
    run_key,
    state,
    attempts,
    updated_at,
    quiet_hours,
    consent_scope,
    send_time_arm
)
SELECT
    d.send_key,
    s.chain_id,
    s.step_id,
    s.instance_id,
    s.trigger_key,
    s.customer_id,
    s.channel,
    s.message_kind,
    s.template,
    d.variant,
    s.context,
    :now AS planned_at,
    d.send_after,
    d.local_send_date,
    s.expires_at,
    d.run_key,
    'planned' AS state,
    0 AS attempts,
    :now AS updated_at,
    s.quiet_hours,
    s.consent_scope,
    d.send_time_arm
FROM crm.decisions AS d
INNER JOIN crm.due_steps AS s
    ON
        d.run_key = s.run_key
        AND d.instance_id = s.instance_id
        AND d.step_id = s.step_id
        AND d.channel = s.channel
WHERE d.run_key = :run_key AND d.outcome = 'planned'
ON CONFLICT (send_key) DO NOTHING
