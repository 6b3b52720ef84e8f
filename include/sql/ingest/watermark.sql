-- The ingest watermark: how far (in loaded_at) the source has been processed, per source table.
-- Inputs: crm.watermarks. Outputs: source_table, loaded_through. Parameters: none.
SELECT
    source_table,
    loaded_through
FROM crm.watermarks
