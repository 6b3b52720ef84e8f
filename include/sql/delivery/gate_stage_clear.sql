-- Empty the send-time check's stage of one claim once applied.
-- inputs: crm.delivery_gate_stage; outputs: crm.delivery_gate_stage
-- params: :claim_token
DELETE FROM crm.delivery_gate_stage
WHERE claim_token = :claim_token;
