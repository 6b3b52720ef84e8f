-- The ledger key of a message a provider names by its own id (SMS delivery reports). A report may come for
-- a message whose outcome is still in the hand-over journal of a DuckDB dispatch that was killed (it is
-- applied to the ledger when the next dispatch starts).
-- inputs: crm.send_ledger, crm.send_handovers; outputs: send_key (none when the id is unknown)
-- params: :provider, :provider_message_id
SELECT l.send_key
FROM crm.send_ledger AS l
WHERE l.provider = :provider AND l.provider_message_id = :provider_message_id
UNION
SELECT h.send_key
FROM crm.send_handovers AS h
INNER JOIN crm.send_ledger AS l ON h.send_key = l.send_key
WHERE l.provider = :provider AND h.provider_message_id = :provider_message_id;
