-- apply_gate.sql for a request of one row (SMTP, FCM, OneSignal): the verdict comes as parameters, not
-- through crm.delivery_gate_stage, so the hand-over commit is one statement. Same rules as apply_gate.sql.
-- inputs: crm.send_ledger; outputs: crm.send_ledger
-- params: :claim_token, :send_key, :state, :reason, :hold_until, :now
UPDATE crm.send_ledger
SET
    state = CAST(:state AS VARCHAR),
    attempted_at = CASE WHEN CAST(:state AS VARCHAR) = 'sending' THEN CAST(:now AS TIMESTAMP) END,
    send_after = COALESCE(CAST(:hold_until AS TIMESTAMP), send_after),
    hold_reason = COALESCE(CAST(:reason AS VARCHAR), hold_reason),
    held_count = COALESCE(held_count, 0) + CASE WHEN CAST(:state AS VARCHAR) = 'planned' THEN 1 ELSE 0 END,
    last_error = CASE
        WHEN CAST(:state AS VARCHAR) = 'sending' THEN last_error
        ELSE 'send-time check: ' || CAST(:reason AS VARCHAR)
    END,
    updated_at = CAST(:now AS TIMESTAMP)
WHERE
    send_key = :send_key
    AND claim_token = :claim_token
    AND state = 'sending'
    AND attempted_at IS NULL;
