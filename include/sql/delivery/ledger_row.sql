-- One ledger row with its customer's address, for the unsubscribe page.
-- inputs: crm.send_ledger, crm.customers; outputs: at most one row
-- params: :send_key
SELECT
    l.send_key,
    l.channel,
    l.customer_id,
    l.chain_id,
    COALESCE(l.recipient, c.email) AS address
FROM crm.send_ledger AS l
LEFT JOIN crm.customers AS c ON l.customer_id = c.customer_id
WHERE l.send_key = :send_key;
