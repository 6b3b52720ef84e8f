"""Lifecycle trigger chains: the business logic, free of Airflow imports.

The Airflow layer (``lifecycle_providers`` in ``plugins/`` and the DAG files) calls into this package; tests
call it directly against real DuckDB and PostgreSQL warehouses.
"""
