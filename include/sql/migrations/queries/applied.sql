-- The migrations already applied for one migration set.
-- Inputs: crm.schema_migrations. Outputs: version. Parameters: :migration_set.
SELECT version
FROM crm.schema_migrations
WHERE migration_set = :migration_set
