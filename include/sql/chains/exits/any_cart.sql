-- Exit check 'any_cart', for the run's chains that turn it on: the customer put something in the cart
-- after entering (the abandoned-cart chain takes over). Reason 'carted'.
-- Inputs: crm.chain_run_members (exit_any_cart), crm.chain_instances, crm.events (add_to_cart).
-- Output: crm.chain_instances (status 'exited', exit_reason, exited_at, exited_run_key).
-- Parameters: :as_of, :run_key, :now, :active_since (the earliest entered_at of those chains' active
--   instances: a constant bound, so the check reads only the days since then).
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = 'carted',
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE
    status = 'active'
    AND chain_id IN (
        SELECT m.chain_id FROM crm.chain_run_members AS m
        WHERE m.run_key = :run_key AND m.exit_any_cart
    )
    AND EXISTS (
        SELECT 1
        FROM crm.events AS e
        WHERE
            e.customer_id = crm.chain_instances.customer_id
            AND e.event_type = 'add_to_cart'
            AND e.ts > crm.chain_instances.entered_at
            AND e.ts > :active_since
            AND e.ts <= :as_of
    );
