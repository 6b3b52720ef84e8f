-- Bookkeeping for the migration runner (lifecycle.migrations): which migration files ran, and when.
-- Inputs: none. Outputs: schema crm, table crm.schema_migrations. Parameters: none.
CREATE SCHEMA IF NOT EXISTS crm;

CREATE TABLE IF NOT EXISTS crm.schema_migrations (
    migration_set VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL,
    PRIMARY KEY (migration_set, version)
);
