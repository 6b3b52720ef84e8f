"""Airflow plugin: the lifecycle pages in the Airflow UI.

* **Run summary** — a tab on every DAG run (``destination: dag_run``); for chains, ingest and scores runs it
  shows what the run did (funnel, rows, segments) with the previous run for comparison.
* **CRM overview** — a page in the navigation: chain KPIs, incremental revenue with its interval and
  significance (or why no figure is shown), A/B tests and bandit weights, cohorts, RFM, LTV/retention, the
  chains with a "Preview audience" action each, the communication map.
* **Audience preview** — from the CRM overview: who would enter a chain at a chosen hour and what the contact
  policy would do with them, nothing written; a broken chain file or query is named on the page.

Both are served by a FastAPI app mounted at ``/lifecycle`` and protected by
:mod:`lifecycle_providers.ui.auth` (Airflow does not protect plugin apps). docs/measurement.md describes them.
"""

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from lifecycle_providers.ui.app import URL_PREFIX, app


class LifecycleUIPlugin(AirflowPlugin):
    name = "lifecycle_ui"
    fastapi_apps: ClassVar[list[dict]] = [{"app": app, "url_prefix": URL_PREFIX, "name": "Lifecycle UI"}]
    external_views: ClassVar[list[dict]] = [
        {
            "name": "Run summary",
            "href": f"{URL_PREFIX.lstrip('/')}/runs/{{DAG_ID}}/{{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "run-summary",
        },
        {
            "name": "CRM overview",
            "href": f"{URL_PREFIX.lstrip('/')}/overview",
            "destination": "nav",
            "url_route": "crm-overview",
            "category": "browse",
        },
    ]
