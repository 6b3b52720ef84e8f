"""Trigger chains: the communication map (``config``) and the hourly processing of instances (``engine``).

No Airflow here; ``dags/lifecycle_chains.py`` is the thin scheduling layer on top.
"""
