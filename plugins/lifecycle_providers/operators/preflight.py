"""The first task of every project DAG: the pools its tasks run in and the connections they use exist.

Airflow 3.3 leaves a task whose pool does not exist in *Scheduled* for ever; the reason ("Tasks using
non-existent pool 'X' will not be scheduled") is only in the scheduler's log and, as a DAG warning, in the
UI's header. A missing connection fails only the task that looks it up, often after earlier tasks have
written. :class:`PreflightOperator` runs first, in ``default_pool`` (which always exists), and fails the run
at once with the name of every missing pool and connection and the command that creates it.

Tasks reach Airflow only through the Task SDK, which can read connections but not pools; pools are read from
Airflow's REST API (``GET /api/v2/pools/{name}``) with the ``lifecycle_airflow_api`` connection that the run
notes use as well (`make airflow` and docker-compose set it). Without that connection the pools are not
checked and the log says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from airflow.sdk import BaseOperator

#: Airflow's own pool: it always exists and cannot be deleted.
DEFAULT_POOL = "default_pool"
API_CONN_ID = "lifecycle_airflow_api"


class MissingResourcesError(Exception):
    """Pools or connections a DAG needs do not exist; the message names each one and how to create it."""


class PreflightOperator(BaseOperator):
    """Fail the run, without retries, when a pool or a connection the DAG's tasks use does not exist.

    Connections are ``conn_ids`` (templated, e.g. ``{{ params.email_conn_id }}``) plus every ``*_conn_id``
    attribute of the DAG's operators, rendered against this run; pools are those of the DAG's tasks.
    """

    template_fields: Sequence[str] = ("conn_ids",)
    ui_color = "#fef3c7"

    def __init__(
        self, *, conn_ids: Sequence[str] = (), api_conn_id: str = API_CONN_ID, **kwargs: Any
    ) -> None:
        kwargs.setdefault("task_id", "check_pools_and_connections")
        kwargs["pool"] = DEFAULT_POOL
        super().__init__(**kwargs)
        self.conn_ids = list(conn_ids)
        self.api_conn_id = api_conn_id

    def execute(self, context) -> dict[str, list[str]]:
        from airflow.sdk.exceptions import AirflowFailException

        tasks = [task for task in self.dag.tasks if task.task_id != self.task_id]
        connections = self._connections_used(tasks, context)
        pools = pools_used(tasks)
        problems = [missing_connection(conn_id, users) for conn_id, users in connections.items()]
        problems = [problem for problem in problems if problem]
        existing = self._existing_pools(pools)
        if existing is not None:
            problems += [missing_pool(name, users) for name, users in pools.items() if name not in existing]
        if problems:
            raise AirflowFailException(str(MissingResourcesError("; ".join(problems))))
        checked = {"connections": sorted(connections), "pools": sorted(pools) if existing is not None else []}
        if existing is None:
            self.log.info("%d connection(s) exist: %s", len(connections), ", ".join(checked["connections"]))
        else:
            self.log.info(
                "%d connection(s) and %d pool(s) exist: %s",
                len(checked["connections"]),
                len(checked["pools"]),
                ", ".join(checked["connections"] + checked["pools"]),
            )
        return checked

    def _connections_used(self, tasks: Iterable[BaseOperator], context) -> dict[str, list[str]]:
        used: dict[str, list[str]] = {}
        for conn_id in self.conn_ids:
            used.setdefault(conn_id, [])
        for task in tasks:
            for name, value in vars(task).items():
                if name.endswith("conn_id") and isinstance(value, str) and value:
                    rendered = self.render_template(value, context)
                    used.setdefault(rendered, []).append(task.task_id)
        return used

    def _existing_pools(self, pools: dict[str, list[str]]) -> set[str] | None:
        """The pools of ``pools`` that exist, from the REST API; None when they cannot be checked."""
        import httpx
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        wanted = sorted(set(pools) - {DEFAULT_POOL})
        if not wanted:
            return set(pools)
        try:
            conn = BaseHook.get_connection(self.api_conn_id)
        except AirflowNotFoundException:
            self.log.warning(
                "pools %s not checked: no %r connection to Airflow's REST API (a missing pool leaves its "
                "tasks in Scheduled; the UI lists it among the DAG warnings)",
                ", ".join(wanted),
                self.api_conn_id,
            )
            return None
        scheme = "https" if (conn.schema or "").lower() == "https" else "http"
        base_url = f"{scheme}://{conn.host or 'localhost'}:{conn.port or 8080}"
        with httpx.Client(base_url=base_url, timeout=10) as api:
            token = api.post("/auth/token", json={"username": conn.login, "password": conn.password})
            token.raise_for_status()
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            existing = {DEFAULT_POOL}
            for name in wanted:
                response = api.get(f"/api/v2/pools/{name}", headers=headers)
                if response.status_code == 404:
                    continue
                response.raise_for_status()
                existing.add(name)
        return existing


def pools_used(tasks: Iterable[BaseOperator]) -> dict[str, list[str]]:
    """Pool name -> the ids of the tasks that run in it."""
    used: dict[str, list[str]] = {}
    for task in tasks:
        used.setdefault(task.pool, []).append(task.task_id)
    return used


def missing_pool(name: str, users: list[str]) -> str:
    return (
        f'pool {name!r} does not exist: create it with `airflow pools set {name} 1 "{name}"` (more slots '
        f"where the warehouse allows) or in the UI, Admin > Pools; until then {_tasks(users)} would stay "
        "in Scheduled"
    )


def missing_connection(conn_id: str, users: list[str]) -> str | None:
    """The problem with ``conn_id``, or None when the connection exists."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        used_by = f" ({_tasks(users)} use it)" if users else ""
        return (
            f"connection {conn_id!r} does not exist{used_by}: create it with `airflow connections add "
            f"{conn_id} --conn-json '{{\"conn_type\": ...}}'` or the environment variable "
            f"AIRFLOW_CONN_{conn_id.upper()} (docs/delivery.md and the README list what each one holds)"
        )
    return None


def _tasks(task_ids: list[str]) -> str:
    shown = ", ".join(task_ids[:3]) + (f" and {len(task_ids) - 3} more" if len(task_ids) > 3 else "")
    return f"task {shown}" if len(task_ids) == 1 else f"tasks {shown}"
