-- The columns of one table, to tell whether an optional feature source (e.g. message engagement) exists.
-- Inputs: information_schema.columns. Outputs: column_name (none when the table is absent).
-- Parameters: :schema_name, :table_name.
SELECT column_name
FROM information_schema.columns
WHERE table_schema = :schema_name AND table_name = :table_name
