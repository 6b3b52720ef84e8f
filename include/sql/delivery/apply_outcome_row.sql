-- apply_outcomes.sql for a request of one row (SMTP, FCM, OneSignal): the outcome comes as parameters,
-- not through crm.delivery_outcome_stage, so the outcome commit is one statement. Same rules as
-- apply_outcomes.sql: only a row still held by this claim changes.
-- inputs: crm.send_ledger; outputs: crm.send_ledger
-- params: :claim_token, :send_key, :state, :recipient, :provider_message_id, :last_error, :sent_at,
--   :retry_at, :segments, :cost, :now
UPDATE crm.send_ledger
SET
    state = CAST(:state AS VARCHAR),
    recipient = COALESCE(CAST(:recipient AS VARCHAR), recipient),
    provider_message_id = COALESCE(CAST(:provider_message_id AS VARCHAR), provider_message_id),
    last_error = CAST(:last_error AS VARCHAR),
    segments = CAST(:segments AS INTEGER),
    cost = CAST(:cost AS DOUBLE PRECISION),
    sent_at = CASE
        WHEN CAST(:state AS VARCHAR) = 'sent' THEN COALESCE(attempted_at, CAST(:sent_at AS TIMESTAMP))
    END,
    send_after = CASE
        WHEN CAST(:state AS VARCHAR) = 'planned' THEN COALESCE(CAST(:retry_at AS TIMESTAMP), send_after)
        ELSE send_after
    END,
    attempted_at = CASE WHEN CAST(:state AS VARCHAR) = 'planned' THEN NULL ELSE attempted_at END,
    updated_at = CAST(:now AS TIMESTAMP)
WHERE
    send_key = :send_key
    AND claim_token = :claim_token
    AND state = 'sending';
