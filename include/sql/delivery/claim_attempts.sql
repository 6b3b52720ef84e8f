-- How often each row of a claim has been claimed, for the backoff of rows the provider did not take.
-- inputs: crm.send_ledger; outputs: send_key, attempts
-- params: :claim_token
SELECT
    send_key,
    attempts
FROM crm.send_ledger
WHERE claim_token = :claim_token;
