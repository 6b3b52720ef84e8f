-- Give back the rows of a claim that were never handed to the provider (the run stopped on a configuration
-- error): they were certainly not sent and go back to 'planned'.
-- inputs: crm.send_ledger; outputs: crm.send_ledger
-- params: :claim_token, :error, :now
UPDATE crm.send_ledger
SET
    state = 'planned',
    last_error = :error,
    claim_token = NULL,
    updated_at = :now
WHERE claim_token = :claim_token AND state = 'sending' AND attempted_at IS NULL;
