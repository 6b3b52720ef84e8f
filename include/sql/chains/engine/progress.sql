-- Bring the active instances of the run's chains up to date with what the contact policy decided in earlier
-- runs: touches = messages planned for the instance; an instance whose every step (of its branch) is done
-- (planned or suppressed by the policy, or skipped by a segment override) is completed.
-- Inputs: crm.chain_run_members (the run's chains), crm.chain_instances, crm.chain_steps,
--   crm.chain_step_outcomes (decisions and skips).
-- Output: crm.chain_instances (touches, status 'completed', exited_at, exited_run_key).
-- Parameters: :run_key (its own outcomes are ignored, so a re-run gives the same result), :as_of, :now.
-- Only the instances whose count changed are written: most active instances wait for a later step.
UPDATE crm.chain_instances SET
    touches = counted.touches,
    updated_at = :now
FROM (
    SELECT
        i.instance_id,
        COUNT(o.instance_id) AS touches
    FROM crm.chain_instances AS i
    INNER JOIN crm.chain_run_members AS m ON i.chain_id = m.chain_id AND m.run_key = :run_key
    LEFT JOIN crm.chain_step_outcomes AS o
        ON
            i.instance_id = o.instance_id
            AND o.outcome = 'planned'
            AND o.run_key <> :run_key
    WHERE i.status = 'active'
    GROUP BY i.instance_id
) AS counted
WHERE
    crm.chain_instances.instance_id = counted.instance_id
    AND crm.chain_instances.touches IS DISTINCT FROM counted.touches;

UPDATE crm.chain_instances SET
    status = 'completed',
    exited_at = :as_of,
    exited_run_key = :run_key,
    updated_at = :now
WHERE
    status = 'active'
    AND chain_id IN (
        SELECT m.chain_id FROM crm.chain_run_members AS m
        WHERE m.run_key = :run_key
    )
    AND NOT EXISTS (
        SELECT 1
        FROM crm.chain_steps AS s
        WHERE
            s.chain_id = crm.chain_instances.chain_id
            AND (s.branch IS NULL OR s.branch = crm.chain_instances.branch)
            AND NOT EXISTS (
                SELECT 1
                FROM crm.chain_step_outcomes AS o
                WHERE
                    o.instance_id = crm.chain_instances.instance_id
                    AND o.step_id = s.step_id
                    AND o.run_key <> :run_key
            )
    );
