"""Task-side helper: write a short Markdown digest into the DAG run's note through Airflow's REST API.

Tasks hold only an Execution-API token, so the public API is called with the credentials of the Airflow
connection ``lifecycle_airflow_api`` (host, port, login, password; schema ``https`` for TLS). Without that
connection the note is skipped with a log line: the digest is on the Run summary tab anyway.
"""

from __future__ import annotations

import logging

from lifecycle.reports.digest import NOTE_LIMIT

API_CONN_ID = "lifecycle_airflow_api"
log = logging.getLogger(__name__)


def post_run_note(
    dag_id: str, run_id: str, note: str, conn_id: str = API_CONN_ID, timeout: float = 10.0
) -> bool:
    """PATCH the run's note (cut to Airflow's 1000-character limit); True when written, False when skipped."""
    import httpx
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:  # the SDK raises its own not-found error types
        log.info(
            "no %r connection: the run note is not written (the digest is on the Run summary tab)", conn_id
        )
        return False
    scheme = "https" if (conn.schema or "").lower() == "https" else "http"
    base = f"{scheme}://{conn.host or 'localhost'}:{conn.port or 8080}"
    with httpx.Client(base_url=base, timeout=timeout) as client:
        token = client.post("/auth/token", json={"username": conn.login, "password": conn.password})
        token.raise_for_status()
        response = client.patch(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}",
            params={"update_mask": "note"},
            json={"note": note[:NOTE_LIMIT]},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        response.raise_for_status()
    log.info("run note written for %s/%s (%d characters)", dag_id, run_id, min(len(note), NOTE_LIMIT))
    return True
