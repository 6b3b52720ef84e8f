-- What the contact policy decided in a chain preview (inside its rolled-back transaction): due steps by
-- outcome and reason, separately for the preview's new entrants and for instances already in the chain.
-- Inputs: crm.decisions, crm.chain_instances. Output: entrant (true for a new entrant), outcome, reason,
--   steps. Parameters: :chain_id, :run_key (the preview's own run key).
SELECT
    COALESCE(i.entered_run_key = :run_key, FALSE) AS entrant,
    d.outcome,
    COALESCE(d.reason, '') AS reason,
    COUNT(*) AS steps
FROM crm.decisions AS d
LEFT JOIN crm.chain_instances AS i ON d.instance_id = i.instance_id
WHERE d.chain_id = :chain_id AND d.run_key = :run_key
GROUP BY COALESCE(i.entered_run_key = :run_key, FALSE), d.outcome, COALESCE(d.reason, '')
ORDER BY entrant DESC, outcome ASC, reason ASC;
