-- A throw-away ledger row for the preview command (its transaction is rolled back, nothing is kept).
-- inputs: none; outputs: crm.send_ledger
-- params: :send_key, :chain_id, :step_id, :customer_id, :channel, :template, :context, :claim_token, :now
INSERT INTO crm.send_ledger (
    send_key, chain_id, step_id, instance_id, trigger_key, customer_id, channel, message_kind, template,
    variant, context, planned_at, send_after, local_send_date, expires_at, run_key, state, attempts,
    updated_at, claim_token, claimed_at
)
VALUES (
    :send_key, :chain_id, :step_id, :send_key, :send_key, :customer_id, :channel, 'trigger', :template,
    'a', :context, :now, :now, CAST(:now AS DATE), :now, 'preview', 'sending', 0,
    :now, :claim_token, :now
);
