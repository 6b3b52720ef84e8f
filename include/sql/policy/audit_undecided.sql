-- Due steps without a decision (there must be none: every due step ends in exactly one outcome).
-- Inputs: crm.due_steps, crm.decisions. Outputs: undecided. Parameters: none.
SELECT COUNT(*) AS undecided
FROM crm.due_steps AS s
LEFT JOIN crm.decisions AS d
    ON
        s.run_key = d.run_key
        AND s.instance_id = d.instance_id
        AND s.step_id = d.step_id
        AND s.channel = d.channel
WHERE d.run_key IS NULL
