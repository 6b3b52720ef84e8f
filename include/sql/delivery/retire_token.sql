-- A token the push provider reports as unregistered is never used again.
-- inputs: crm.push_tokens; outputs: crm.push_tokens (is_active)
-- params: :token
UPDATE crm.push_tokens
SET is_active = FALSE
WHERE token = :token;
