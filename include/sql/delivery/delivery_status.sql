-- A delivery report sets the ledger row's delivery status; a report older than the one stored is ignored.
-- inputs: crm.send_ledger; outputs: crm.send_ledger (delivery_status, delivery_at)
-- params: :send_key, :status, :at, :now
UPDATE crm.send_ledger
SET
    delivery_status = :status,
    delivery_at = :at,
    updated_at = :now
WHERE
    send_key = :send_key
    AND (delivery_at IS NULL OR delivery_at <= :at);
