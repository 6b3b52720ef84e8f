-- How far the ingest has loaded every source table (the earliest watermark; NULL before the first ingest).
-- Inputs: crm.watermarks. Output: loaded_through. Parameters: none.
SELECT MIN(loaded_through) AS loaded_through
FROM crm.watermarks
