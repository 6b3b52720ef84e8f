-- Migration crm/0020: a holdout of one step (e.g. the SMS of a chain), to measure what that touch adds.
--
-- crm.due_steps.step_holdout_share  the step's share of the customers it would go to who are kept from it
--                                   alone (0: none); the same customers every run.
-- crm.decisions.step_arm            for steps with a step holdout: 'treated' (the step was planned) or
--                                   'holdout' (every rule let it go, and the customer is in the step's
--                                   holdout); NULL for the other steps and for holds.

ALTER TABLE crm.due_steps ADD COLUMN IF NOT EXISTS step_holdout_share DOUBLE PRECISION;
ALTER TABLE crm.decisions ADD COLUMN IF NOT EXISTS step_arm VARCHAR;
