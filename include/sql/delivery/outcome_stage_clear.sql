-- Empty the outcome stage of one claim once applied.
-- inputs: crm.delivery_outcome_stage; outputs: crm.delivery_outcome_stage
-- params: :claim_token
DELETE FROM crm.delivery_outcome_stage
WHERE claim_token = :claim_token;
