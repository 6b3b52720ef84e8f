-- An unsubscribe, complaint or hard bounce suppresses the address on its channel (customer from the ledger).
-- inputs: crm.send_ledger; outputs: crm.suppressions
-- params: :channel, :address, :send_key, :reason, :source, :now
INSERT INTO crm.suppressions (channel, address, customer_id, reason, source, created_at)
VALUES (
    :channel,
    :address,
    (
        SELECT l.customer_id FROM crm.send_ledger AS l
        WHERE l.send_key = :send_key
    ),
    :reason,
    :source,
    :now
)
ON CONFLICT DO NOTHING;
