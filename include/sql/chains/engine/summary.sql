-- Per chain, for one run: candidates, entries, exits by reason, completions, due steps and skipped steps.
-- Inputs: crm.chain_runs, crm.chain_instances. Output: one row per chain and exit reason (NULL reason: the
--   chain's totals row). Parameters: :run_key.
SELECT
    r.chain_id,
    CAST(NULL AS VARCHAR) AS exit_reason,
    r.candidates,
    r.entered,
    r.exited,
    r.completed,
    r.due_steps,
    r.skipped_steps
FROM crm.chain_runs AS r
WHERE r.run_key = :run_key
UNION ALL
SELECT
    i.chain_id,
    i.exit_reason,
    NULL AS candidates,
    NULL AS entered,
    COUNT(*) AS exited,
    NULL AS completed,
    NULL AS due_steps,
    NULL AS skipped_steps
FROM crm.chain_instances AS i
WHERE i.exited_run_key = :run_key AND i.status = 'exited'
GROUP BY i.chain_id, i.exit_reason
ORDER BY chain_id, exit_reason NULLS FIRST;
