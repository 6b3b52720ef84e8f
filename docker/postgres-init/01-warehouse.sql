-- The lifecycle warehouse for docker-compose: a `warehouse` database owned by a `lifecycle` role, on the same
-- PostgreSQL server as Airflow's metadata database. The postgres image runs this file with psql, as the
-- superuser, only when it initialises an empty data volume (/docker-entrypoint-initdb.d); to re-run it,
-- remove the volume (`docker compose down --volumes`). The role's password comes from the
-- LIFECYCLE_WAREHOUSE_PASSWORD variable of the postgres service, the one AIRFLOW_CONN_LIFECYCLE_WAREHOUSE uses.
-- The pipeline's own migrations (lifecycle.migrations) create the shop and crm schemas as this role.
\set ON_ERROR_STOP on
\getenv lifecycle_password LIFECYCLE_WAREHOUSE_PASSWORD
\if :{?lifecycle_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'LIFECYCLE_WAREHOUSE_PASSWORD is not set for the postgres service'; END $$;
\endif

CREATE ROLE lifecycle LOGIN PASSWORD :'lifecycle_password';
CREATE DATABASE warehouse OWNER lifecycle;
REVOKE ALL ON DATABASE warehouse FROM PUBLIC;
