-- Empty the render stage of one claim once its contexts are built.
-- inputs: crm.delivery_render_stage; outputs: crm.delivery_render_stage
-- params: :claim_token
DELETE FROM crm.delivery_render_stage
WHERE claim_token = :claim_token;
