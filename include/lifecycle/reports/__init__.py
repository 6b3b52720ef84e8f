"""Measurement: attribution, chain KPIs, incremental revenue over the holdout, A/B results, cohorts, RFM and
customer KPIs (``build`` materialises them daily into the small ``crm.report_*`` tables), what the UI pages
read (``read``) and the short run digests for DAG-run notes (``digest``). No Airflow here.

Definitions and methods: docs/measurement.md.
"""
