-- Reference for tests: chains/exits/any_cart.sql with only its correlated time bounds (no :active_since).
-- Exit check 'any_cart': the customer put something in the cart after entering (the abandoned-cart chain
-- takes over). Reason 'carted'.
-- Inputs: crm.chain_instances, crm.events (add_to_cart).
-- Output: crm.chain_instances (status 'exited', exit_reason, exited_at, exited_run_key).
-- Parameters: :chain_id, :as_of, :run_key, :now.
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = 'carted',
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE
    chain_id = :chain_id
    AND status = 'active'
    AND EXISTS (
        SELECT 1
        FROM crm.events AS e
        WHERE
            e.customer_id = crm.chain_instances.customer_id
            AND e.event_type = 'add_to_cart'
            AND e.ts > crm.chain_instances.entered_at
            AND e.ts <= :as_of
    );
