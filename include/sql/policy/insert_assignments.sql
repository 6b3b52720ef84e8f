-- Store the experiment arms the run's decisions used: the global control group and chain holdouts (for
-- the customers they held back) and the A/B/n variant of every planned step. Assignments are deterministic,
-- so one stored earlier is kept as it is.
-- Inputs: crm.decisions. Outputs: crm.experiment_assignments. Parameters: :run_key, :now.
INSERT INTO crm.experiment_assignments (experiment_id, customer_id, arm, assigned_at)
SELECT DISTINCT
    CASE
        WHEN reason = 'global_control' THEN 'global_control'
        WHEN reason = 'holdout' THEN 'holdout:' || chain_id
        ELSE 'ab:' || chain_id || ':' || step_id
    END AS experiment_id,
    customer_id,
    CASE WHEN outcome = 'planned' THEN variant ELSE 'control' END AS arm,
    :now AS assigned_at
FROM crm.decisions
WHERE run_key = :run_key AND (outcome = 'planned' OR reason IN ('global_control', 'holdout'))
ON CONFLICT (experiment_id, customer_id) DO NOTHING
