-- The ledger key of a message a provider names by its own id (SMS delivery reports).
-- inputs: crm.send_ledger; outputs: send_key (none when the id is unknown)
-- params: :provider, :provider_message_id
SELECT send_key
FROM crm.send_ledger
WHERE provider = :provider AND provider_message_id = :provider_message_id;
