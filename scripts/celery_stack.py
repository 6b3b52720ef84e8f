"""`python scripts/celery_stack.py [--keep]`: a distributed Airflow on this machine, made of separate
processes as docker-compose.yaml runs it, with the demo shop and the pipeline's DAGs run in order.

``airflow api-server``, ``airflow scheduler``, ``airflow dag-processor`` and ``airflow celery worker`` run
with the CeleryExecutor: Redis is the broker, the PostgreSQL metadata database the result backend, and the
warehouse another PostgreSQL database. Everything is named after one random token (databases, the Celery
queue, the Redis key prefix, the worker's node name), so several stacks can share the PostgreSQL and Redis
servers; :meth:`CeleryStack.stop` removes all of it and is safe to call after a partial start.

Every wait polls with a deadline and fails with what went wrong: the HTTP answer, the log tail of the
process that died, or the log tail of the failed task.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: The login of the simple auth manager, for the REST API and the tasks' run notes.
LOGIN = ("admin", "admin")
#: The same pools and slot counts as docker-compose's airflow-init (LIFECYCLE_WAREHOUSE_POOL_SLOTS default).
POOLS = {
    "lifecycle_warehouse": 8,
    "lifecycle_delivery_email": 1,
    "lifecycle_delivery_push": 1,
    "lifecycle_delivery_sms": 1,
}
#: Task slots of the Celery worker: two cores here; docker-compose leaves Airflow's default (16).
WORKER_CONCURRENCY = 4
#: Run states after which a run no longer changes on its own.
FINISHED_RUN_STATES = {"success", "failed"}
#: Task states that mean a try failed: reported at once instead of waiting for the retry.
FAILED_TASK_STATES = {"failed", "up_for_retry", "upstream_failed"}


class StackError(AssertionError):
    """The stack did not start, a process died, or a DAG run did not succeed; the message says why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40, width: int = 400) -> str:
    """The last ``lines`` lines of a process log, each cut to ``width`` characters."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(line[:width] for line in text.splitlines()[-lines:])


def _task_log_line(line: str) -> str:
    """A line of an Airflow 3 task log (JSON) as ``time level event``, with the exception if any."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict):
        return line
    text = f"{entry.get('timestamp', '')} {entry.get('level', '')} {entry.get('event', '')}"
    for error in entry.get("error_detail") or []:
        text += f"\n    {error.get('exc_type')}: {error.get('exc_value')}"
        for frame in (error.get("frames") or [])[-3:]:
            text += f"\n      {frame.get('filename')}:{frame.get('lineno')} in {frame.get('name')}"
    return text


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path


@dataclass
class DagRun:
    """A finished run of one DAG: its id, state, task instances (REST API records) and wall time."""

    dag_id: str
    run_id: str
    state: str
    seconds: float
    task_instances: list[dict[str, Any]]
    note: str | None


@dataclass
class CeleryStack:
    workdir: Path
    pg_admin_url: str
    redis_url: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    services: list[Service] = field(default_factory=list)
    commands: list[subprocess.Popen] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    _token: str | None = None
    _env: dict[str, str] | None = None

    # --- names ----------------------------------------------------------------------------------------

    @property
    def metadata_db(self) -> str:
        return f"lifecycle_celery_meta_{self.token}"

    @property
    def warehouse_db(self) -> str:
        return f"lifecycle_celery_wh_{self.token}"

    @property
    def queue(self) -> str:
        """The only Celery queue the worker consumes and every task is sent to."""
        return f"lifecycle-celery-{self.token}"

    @property
    def redis_prefix(self) -> str:
        return f"lifecycle-celery-{self.token}:"

    @property
    def worker_name(self) -> str:
        return f"lifecycle-{self.token}@{socket.gethostname()}"

    @property
    def airflow_home(self) -> Path:
        return self.workdir / "airflow"

    @property
    def outbox(self) -> Path:
        return self.workdir / "outbox"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _pg_url(self, database: str, driver: str) -> str:
        import sqlalchemy as sa

        return (
            sa.make_url(self.pg_admin_url)
            .set(drivername=driver, database=database)
            .render_as_string(hide_password=False)
        )

    @property
    def warehouse_url(self) -> str:
        """SQLAlchemy URL of the warehouse, as ``python -m lifecycle`` takes it."""
        return self._pg_url(self.warehouse_db, "postgresql+psycopg")

    @property
    def metadata_url(self) -> str:
        return self._pg_url(self.metadata_db, "postgresql+psycopg2")

    # --- environment ------------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The environment of every Airflow process: docker-compose.yaml's settings, pointed at this stack.
        Made once: every process must share the same secrets."""
        if self._env is None:
            self._env = self._make_env()
        return self._env

    def _make_env(self) -> dict[str, str]:
        import sqlalchemy as sa

        pg = sa.make_url(self.pg_admin_url)
        # Settings of the calling process (the test session's own SQLite Airflow) must not leak in.
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
        env.update(
            {
                "AIRFLOW_HOME": str(self.airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__FERNET_KEY": secret,
                # The executor settings of docker-compose.yaml: Celery, Redis broker, PostgreSQL results.
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
                "AIRFLOW__CELERY__BROKER_URL": self.redis_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self._pg_url(self.metadata_db, 'postgresql')}",
                "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": self.redis_prefix,
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{LOGIN[0]}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                    self.airflow_home / "passwords.json"
                ),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                # Task processes on the worker report to the execution API of the API server, with tokens
                # signed by this secret: every process must have the same one.
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                # Runs are triggered one by one, in pipeline order: no cron or asset-triggered runs besides.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT / "plugins")]),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                # The connections the DAGs use, as in docker-compose.yaml.
                "AIRFLOW_CONN_LIFECYCLE_WAREHOUSE": json.dumps(
                    {
                        "conn_type": "postgres",
                        "host": pg.host or "127.0.0.1",
                        "port": pg.port or 5432,
                        "schema": self.warehouse_db,
                        "login": pg.username or "",
                        "password": pg.password or "",
                    }
                ),
                "AIRFLOW_CONN_LIFECYCLE_SANDBOX": json.dumps(
                    {
                        "conn_type": "lifecycle_sandbox",
                        "extra": {
                            "path": str(self.outbox),
                            "from_email": "shop@shop.example",
                            "from_name": "Shop",
                        },
                    }
                ),
                "AIRFLOW_CONN_LIFECYCLE_LINKS": json.dumps(
                    {
                        "conn_type": "generic",
                        "password": secrets.token_urlsafe(24),
                        "extra": {"base_url": f"{self.base_url}/lifecycle-webhooks"},
                    }
                ),
                "AIRFLOW_CONN_LIFECYCLE_AIRFLOW_API": json.dumps(
                    {
                        "conn_type": "http",
                        "host": "127.0.0.1",
                        "port": self.port,
                        "login": LOGIN[0],
                        "password": LOGIN[1],
                    }
                ),
            }
        )
        return env

    # --- start ------------------------------------------------------------------------------------------

    def create_databases(self) -> None:
        import sqlalchemy as sa

        admin = sa.create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for name in (self.metadata_db, self.warehouse_db):
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                    self.databases.append(name)
        finally:
            admin.dispose()

    def run(self, name: str, args: list[str], env: dict[str, str], timeout: float) -> subprocess.Popen:
        """Start a one-off command (its output in ``<workdir>/<name>.log``); :meth:`finish` waits for it."""
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        process.deadline = time.monotonic() + timeout  # type: ignore[attr-defined]
        process.log = log  # type: ignore[attr-defined]
        process.label = name  # type: ignore[attr-defined]
        self.commands.append(process)
        return process

    def finish(self, process: subprocess.Popen) -> str:
        try:
            process.wait(timeout=max(1.0, process.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise StackError(f"{process.label} did not finish in time:\n{tail(process.log)}") from None
        if process.returncode != 0:
            raise StackError(f"{process.label} exited {process.returncode}:\n{tail(process.log)}")
        return process.log.read_text(encoding="utf-8", errors="replace")

    def start_service(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() kills it with its children
            )
        self.services.append(Service(name, process, log))

    def check_services(self) -> None:
        for service in self.services:
            if service.process.poll() is not None:
                raise StackError(
                    f"`airflow {service.name}` exited {service.process.returncode}:\n{tail(service.log, 60)}"
                )

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        """Poll ``check`` until it returns something truthy; fail naming ``what`` (and any dead process)."""
        import httpx

        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            self.check_services()
            try:
                result = check()
                if result:
                    return result
            except (OSError, ValueError, KeyError, httpx.HTTPError) as exc:  # not up yet, bad JSON
                last_error = exc
            if time.monotonic() > deadline:
                raise StackError(
                    f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})"
                )
            time.sleep(interval)

    def start(self, *, customers: int, seed: int, end: datetime) -> dict[str, Any]:
        """Databases, the demo shop, the metadata schema, then the four Airflow processes; returns the
        demo's manifest once the API server is up, the pools exist and every DAG is parsed."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        self.create_databases()
        env = self.env()
        (self.airflow_home / "passwords.json").write_text(json.dumps({LOGIN[0]: LOGIN[1]}), encoding="utf-8")
        # The metadata schema and the demo shop are independent: built side by side.
        migrate_metadata = self.run(
            "db-migrate", [sys.executable, "-m", "airflow", "db", "migrate"], env, timeout=300
        )
        demo = self.run(
            "demo",
            [
                sys.executable, "-m", "lifecycle.demo",
                "--customers", str(customers), "--seed", str(seed), "--days", "730",
                "--end", end.strftime("%Y-%m-%dT%H:%M"), "--warehouse", self.warehouse_url,
            ],
            env,
            timeout=300,
        )  # fmt: skip
        manifest = json.loads(self.finish(demo))
        self.finish(
            self.run(
                "warehouse-migrate",
                [sys.executable, "-m", "lifecycle", "migrate", "--warehouse", self.warehouse_url],
                env,
                timeout=120,
            )
        )
        self.finish(migrate_metadata)

        self.start_service("api-server", ["api-server", "--port", str(self.port), "--host", "127.0.0.1"], env)
        self.start_service("scheduler", ["scheduler"], env)
        self.start_service("dag-processor", ["dag-processor"], env)
        self.start_service(
            "celery-worker",
            ["celery", "worker", "--queues", self.queue, "--celery-hostname", self.worker_name],
            env,
        )
        self.wait_for("the API server", lambda: self.get("/api/v2/monitor/health"), timeout=180)
        # The first call of the execution API is slow (its app is built then); a task must not pay for it.
        self.wait_for("the execution API", lambda: self.request("GET", "/execution/health"), timeout=120)
        for pool, slots in POOLS.items():
            self.request(
                "POST", "/api/v2/pools", json={"name": pool, "slots": slots, "description": "lifecycle"}
            )
        self.wait_for("the Celery worker", self.worker_ready, timeout=180)
        return manifest

    def worker_ready(self) -> bool:
        worker = next(service for service in self.services if service.name == "celery-worker")
        return f"{self.worker_name} ready." in worker.log.read_text(encoding="utf-8", errors="replace")

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 240) -> None:
        def parsed() -> bool:
            errors = self.get("/api/v2/importErrors")["import_errors"]
            if errors:
                raise StackError(
                    "DAG files failed to import:\n"
                    + "\n".join(f"{e['filename']}:\n{e['stack_trace']}" for e in errors)
                )
            return all(self.request("GET", f"/api/v2/dags/{dag_id}", ok=(200, 404)) for dag_id in dag_ids)

        self.wait_for(f"the DAGs {', '.join(dag_ids)} to be parsed", parsed, timeout=timeout, interval=2)

    # --- REST API ---------------------------------------------------------------------------------------

    def request(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs) -> Any:
        """Call the REST API as the admin; an answer outside ``ok`` raises with its body; 404 gives None."""
        import httpx

        if self._token is None:
            answer = httpx.post(
                f"{self.base_url}/auth/token", json={"username": LOGIN[0], "password": LOGIN[1]}, timeout=30
            )
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        answer = httpx.request(
            method,
            f"{self.base_url}{path}",
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=30,
            **kwargs,
        )
        if answer.status_code not in (*ok, 201):
            raise StackError(f"{method} {path} answered {answer.status_code}: {answer.text[:2000]}")
        if answer.status_code == 404:
            return None
        return answer.json()

    def get(self, path: str, **params) -> Any:
        return self.request("GET", path, params=params)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)["task_instances"]

    # --- DAG runs ---------------------------------------------------------------------------------------

    def trigger_and_wait(
        self, dag_id: str, logical_date: datetime, conf: dict | None = None, timeout: float = 600
    ) -> DagRun:
        """Trigger a run through the REST API and wait for it to succeed; a failed (or retrying) task fails
        at once, with its log tail."""
        started = time.monotonic()
        run = self.request(
            "POST",
            f"/api/v2/dags/{dag_id}/dagRuns",
            json={"logical_date": logical_date.isoformat(), "conf": conf or {}},
        )
        run_id = run["dag_run_id"]

        def finished() -> dict | None:
            failed = [ti for ti in self.task_instances(dag_id, run_id) if ti["state"] in FAILED_TASK_STATES]
            if failed:
                raise StackError(self.describe_failure(dag_id, run_id, failed))
            current = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            return current if current["state"] in FINISHED_RUN_STATES else None

        try:
            final = self.wait_for(f"{dag_id} run {run_id}", finished, timeout=timeout, interval=1)
        except StackError as exc:
            if "timed out" in str(exc):
                raise StackError(f"{exc}\n{self.describe_unfinished(dag_id, run_id)}") from None
            raise
        if final["state"] != "success":
            raise StackError(self.describe_failure(dag_id, run_id, self.task_instances(dag_id, run_id)))
        return DagRun(
            dag_id,
            run_id,
            final["state"],
            time.monotonic() - started,
            self.task_instances(dag_id, run_id),
            final.get("note"),
        )

    def task_log(self, ti: dict[str, Any], lines: int = 40) -> str:
        """The tail of a task try's log file (written by the worker under the shared AIRFLOW_HOME)."""
        folder = (
            self.airflow_home / "logs" / f"dag_id={ti['dag_id']}" / f"run_id={ti['dag_run_id']}"
            / f"task_id={ti['task_id']}"
        )  # fmt: skip
        if ti.get("map_index", -1) >= 0:
            folder /= f"map_index={ti['map_index']}"
        attempts = sorted(folder.glob("attempt=*.log"))
        if not attempts:
            return f"(no log file under {folder})"
        text = attempts[-1].read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(_task_log_line(line) for line in text[-lines:])

    def describe_failure(self, dag_id: str, run_id: str, task_instances: list[dict[str, Any]]) -> str:
        bad = [ti for ti in task_instances if ti["state"] in FAILED_TASK_STATES] or task_instances
        parts = [f"{dag_id} run {run_id} did not succeed:"]
        for ti in bad:
            parts.append(
                f"--- {ti['task_id']} [{ti['state']}] try {ti.get('try_number')} on {ti.get('hostname')}"
            )
            parts.append(self.task_log(ti))
        parts.append(f"--- celery worker log tail:\n{tail(self.service_log('celery-worker'), 20)}")
        return "\n".join(parts)

    def describe_unfinished(self, dag_id: str, run_id: str) -> str:
        states = {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}
        return (
            f"task states: {states}\n--- scheduler log tail:\n{tail(self.service_log('scheduler'), 25)}\n"
            f"--- celery worker log tail:\n{tail(self.service_log('celery-worker'), 25)}"
        )

    def service_log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    # --- stop -------------------------------------------------------------------------------------------

    def stop(self, grace: float = 10.0) -> list[str]:
        """Stop every process group (TERM, then KILL after ``grace`` seconds), drop the databases and the
        Redis keys. Returns what could not be cleaned up (empty when all went well). The API server's
        command lingers for a while after uvicorn has shut down: the grace period does not wait for it."""
        for command in self.commands:  # a one-off command left running by a failed start
            if command.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(command.pid, signal.SIGKILL)
                command.wait()
        for service in self.services:
            if service.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for service in self.services:
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            # What is left of the group (a lingering parent, task processes, uvicorn workers) is killed.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()
        return self._drop_databases() + self._drop_redis_keys()

    def _drop_databases(self) -> list[str]:
        import sqlalchemy as sa

        problems = []
        admin = sa.create_engine(self.pg_admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for name in self.databases:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except sa.exc.SQLAlchemyError as exc:
            problems.append(f"dropping {self.databases}: {exc}")
        finally:
            admin.dispose()
        return problems

    def _drop_redis_keys(self) -> list[str]:
        import redis

        try:
            client = redis.Redis.from_url(self.redis_url)
            keys = list(client.scan_iter(match=f"{self.redis_prefix}*", count=500))
            if keys:
                client.delete(*keys)
            client.close()
        except redis.RedisError as exc:
            return [f"deleting the Redis keys {self.redis_prefix}*: {exc}"]
        return []


# --- the pipeline -----------------------------------------------------------------------------------------


def pipeline() -> tuple[str, ...]:
    """The demo's DAGs in pipeline order (scripts/demo.py)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo import PIPELINE

    return PIPELINE


def run_pipeline(stack: CeleryStack, end: datetime, timeout_per_dag: float = 600) -> list[DagRun]:
    """Trigger each DAG of the pipeline for ``end`` (the demo shop's now) and wait for it to succeed."""
    dag_ids = list(pipeline())
    stack.wait_for_dags(dag_ids)
    runs = []
    for dag_id in dag_ids:
        # The reports cover the demo's own day (a scheduled run reports the previous day), as in the demo.
        conf = {"report_date": end.date().isoformat()} if dag_id == "lifecycle_reports" else {}
        runs.append(stack.trigger_and_wait(dag_id, end, conf, timeout=timeout_per_dag))
        print(f"  {dag_id:<24} success in {runs[-1].seconds:5.1f} s", flush=True)
    return runs


def main() -> None:
    import argparse
    from datetime import UTC

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres", help="admin URL"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="broker (DB number)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "data" / "celery")
    parser.add_argument("--keep", action="store_true", help="keep the stack up until Ctrl+C")
    args = parser.parse_args()

    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    stack = CeleryStack(
        workdir=args.workdir / uuid.uuid4().hex[:8], pg_admin_url=args.pg_url, redis_url=args.redis_url
    )
    started = time.monotonic()
    try:
        print(f"Starting the stack in {stack.workdir} (warehouse {stack.warehouse_url})", flush=True)
        stack.start(customers=args.customers, seed=args.seed, end=end.replace(tzinfo=None))
        print(
            f"Up in {time.monotonic() - started:.0f} s; UI {stack.base_url} (login {LOGIN[0]} / {LOGIN[1]})"
        )
        run_pipeline(stack, end)
        print(f"Pipeline done {time.monotonic() - started:.0f} s after the start.", flush=True)
        if args.keep:
            print("Ctrl+C stops every process and drops the databases.", flush=True)
            while True:
                stack.check_services()
                time.sleep(2)
    except KeyboardInterrupt:
        pass
    except StackError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    finally:
        for problem in stack.stop():
            print(f"clean-up: {problem}", file=sys.stderr)


if __name__ == "__main__":
    main()
