-- Store the send-time arm of every customer a run planned a send_time: optimal step for: experiment
-- 'send_time:<chain>', arm 'optimal' or 'default' (the chain's send-time holdout). Assignments are
-- deterministic, so one stored earlier is kept as it is.
-- Inputs: crm.decisions. Outputs: crm.experiment_assignments. Parameters: :run_key, :now.
INSERT INTO crm.experiment_assignments (experiment_id, customer_id, arm, assigned_at)
SELECT DISTINCT
    'send_time:' || chain_id AS experiment_id,
    customer_id,
    send_time_arm AS arm,
    :now AS assigned_at
FROM crm.decisions
WHERE run_key = :run_key AND outcome = 'planned' AND send_time_arm IS NOT NULL
ON CONFLICT (experiment_id, customer_id) DO NOTHING
