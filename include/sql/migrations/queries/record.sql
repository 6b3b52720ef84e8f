-- Record one applied migration.
-- Inputs: none. Outputs: a row in crm.schema_migrations.
-- Parameters: :migration_set, :version, :name, :applied_at.
INSERT INTO crm.schema_migrations (migration_set, version, name, applied_at)
VALUES (:migration_set, :version, :name, :applied_at)
