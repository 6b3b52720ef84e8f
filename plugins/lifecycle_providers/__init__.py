"""The Airflow layer of the project: hooks, operators, assets and the UI plugin.

Thin by design: each piece looks up its Airflow Connection lazily and hands the work to ``lifecycle``.
"""
