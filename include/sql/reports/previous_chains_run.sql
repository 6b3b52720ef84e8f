-- The chains run decided just before the given one (by decision time), for comparison.
-- Inputs: crm.decisions. Outputs: run_key. Parameters: :run_key.
WITH runs AS (
    SELECT
        run_key,
        MAX(decided_at) AS decided_at
    FROM crm.decisions
    GROUP BY run_key
)

SELECT r.run_key
FROM runs AS r
WHERE
    r.decided_at < (
        SELECT c.decided_at FROM runs AS c
        WHERE c.run_key = :run_key
    )
ORDER BY r.decided_at DESC, r.run_key DESC
LIMIT 1
