-- Empty the per-chain report settings before they are written again from the chain configs.
-- Inputs: none. Outputs: crm.report_chain_windows (emptied). Parameters: none.
DELETE FROM crm.report_chain_windows
