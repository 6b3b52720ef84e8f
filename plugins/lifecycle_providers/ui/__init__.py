"""The project's Airflow UI: a Run summary tab on DAG runs and a CRM overview page (FastAPI, mounted by
``plugins/lifecycle_ui_plugin.py``), their access check, and the task-side helper that writes run notes.

Modules import only FastAPI and the standard library at import time: Airflow imports every plugin module
in every component, so the warehouse, pandas and the report logic are imported inside the handlers.
"""
