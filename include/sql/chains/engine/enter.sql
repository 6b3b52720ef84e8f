-- Turn the staged candidates of the run's chains into chain instances.
-- A candidate enters when the customer has no active instance of the chain, entered the chain no later than
-- reentry_days before this trigger, and was never entered for this very trigger (same key and time: the
-- overlapping look-back of consecutive runs finds it twice). One entry per chain, customer and run: the
-- earliest. For a chain with on_new_trigger: restart (crm.chain_run_members.restart) a newer trigger first
-- ends the active instance (exit reason 'restarted'), so, for example, each new order restarts the
-- post-purchase chain.
-- The instance id is '<chain>:<customer>:<trigger key>', with '#2', '#3'… for later entries on the same key.
-- Inputs: crm.chain_run_members, crm.chain_candidates, crm.chain_instances. Output: crm.chain_instances.
-- Parameters: :as_of, :run_key, :now.
UPDATE crm.chain_instances SET
    status = 'exited',
    exit_reason = 'restarted',
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE
    status = 'active'
    AND chain_id IN (
        SELECT m.chain_id FROM crm.chain_run_members AS m
        WHERE m.run_key = :run_key AND m.restart
    )
    AND EXISTS (
        SELECT 1
        FROM crm.chain_candidates AS c
        WHERE
            c.chain_id = crm.chain_instances.chain_id
            AND c.customer_id = crm.chain_instances.customer_id
            AND c.triggered_at > crm.chain_instances.triggered_at
            AND c.trigger_key <> crm.chain_instances.trigger_key
    );

INSERT INTO crm.chain_instances (
    instance_id, chain_id, customer_id, trigger_key, branch, triggered_at, entered_at, entered_run_key,
    status, exit_reason, exited_at, exited_run_key, touches, product_ids, trigger_value, context, updated_at
)
SELECT
    a.chain_id || ':' || CAST(a.customer_id AS VARCHAR) || ':' || a.trigger_key
    || CASE WHEN a.earlier_entries > 0 THEN '#' || CAST(a.earlier_entries + 1 AS VARCHAR) ELSE '' END
        AS instance_id,
    a.chain_id,
    a.customer_id,
    a.trigger_key,
    a.branch,
    a.triggered_at,
    a.triggered_at AS entered_at,
    :run_key AS entered_run_key,
    'active' AS status,
    CAST(NULL AS VARCHAR) AS exit_reason,
    CAST(NULL AS TIMESTAMP) AS exited_at,
    CAST(NULL AS VARCHAR) AS exited_run_key,
    0 AS touches,
    a.product_ids,
    a.trigger_value,
    a.context,
    :now AS updated_at
FROM (
    SELECT
        c.*,
        ROW_NUMBER() OVER (
            PARTITION BY c.chain_id, c.customer_id ORDER BY c.triggered_at, c.trigger_key
        ) AS pick,
        (
            SELECT COUNT(*)
            FROM crm.chain_instances AS same
            WHERE
                same.chain_id = c.chain_id
                AND same.customer_id = c.customer_id
                AND same.trigger_key = c.trigger_key
        ) AS earlier_entries
    FROM crm.chain_candidates AS c
    WHERE
        c.chain_id IN (
            SELECT m.chain_id FROM crm.chain_run_members AS m
            WHERE m.run_key = :run_key
        )
        AND NOT EXISTS (
            SELECT 1
            FROM crm.chain_instances AS i
            WHERE
                i.chain_id = c.chain_id
                AND i.customer_id = c.customer_id
                AND (
                    i.status = 'active'
                    OR i.entered_at > c.triggered_at - c.reentry_days * INTERVAL '1 day'
                    OR (i.trigger_key = c.trigger_key AND i.triggered_at = c.triggered_at)
                )
        )
) AS a
WHERE a.pick = 1;
