"""A missing pool or connection fails a DAG run at its first task, naming it and how to create it, instead of
leaving tasks in Scheduled for ever. Real runs through dag.test(); the pools are read from a real Airflow
api-server sharing the test's metadata database."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.airflow]
PREFLIGHT = "check_pools_and_connections"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def api_server(airflow_db):
    """`airflow api-server` on a free port over this test session's metadata database, admin/admin."""
    import httpx

    home = os.environ["AIRFLOW_HOME"]
    with open(os.path.join(home, "simple_auth_manager_passwords.json.generated"), "w", encoding="utf-8") as f:
        json.dump({"admin": "admin"}, f)
    port = _free_port()
    env = os.environ | {
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": "preflight-test-only-jwt-secret-" + "x" * 40,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
    }
    log = open(os.path.join(home, "api-server.log"), "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow", "api-server", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(f"api-server did not start; see {log.name}")
            time.sleep(0.5)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _task_output(capfd) -> str:
    """What the run printed: dag.test() runs tasks in-process and their logs go to the console."""
    out, err = capfd.readouterr()
    return out + err


def test_a_missing_connection_fails_the_run_at_its_first_task(airflow_db, monkeypatch, capfd):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.delenv("AIRFLOW_CONN_LIFECYCLE_WAREHOUSE", raising=False)
    dag = DagBag(dag_folder="dags").dags["lifecycle_reports"]

    run = dag.test()

    states = _states(run)
    assert run.state == "failed"
    assert states[PREFLIGHT] == "failed"
    assert {states[t] for t in states if t != PREFLIGHT} == {"upstream_failed"}
    logged = _task_output(capfd)
    assert "connection 'lifecycle_warehouse' does not exist" in logged
    assert "AIRFLOW_CONN_LIFECYCLE_WAREHOUSE" in logged


def test_a_missing_pool_fails_the_run_naming_the_pool_and_the_command(
    api_server, airflow_warehouse, monkeypatch, capfd, tmp_path
):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.pool import Pool

    monkeypatch.setenv(
        "AIRFLOW_CONN_LIFECYCLE_AIRFLOW_API",
        json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": api_server,
                "login": "admin",
                "password": "admin",
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIFECYCLE_SANDBOX",
        json.dumps({"conn_type": "lifecycle_sandbox", "password": "s", "extra": {"path": str(tmp_path)}}),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_LIFECYCLE_LINKS",
        json.dumps({"conn_type": "generic", "password": "s", "extra": {"base_url": "http://127.0.0.1"}}),
    )
    for name in ("lifecycle_warehouse", "lifecycle_delivery_email", "lifecycle_delivery_sms"):
        Pool.create_or_update_pool(name, slots=1, description="test", include_deferred=False)
    if Pool.get_pool("lifecycle_delivery_push"):
        Pool.delete_pool("lifecycle_delivery_push")
    dag = DagBag(dag_folder="dags").dags["lifecycle_dispatch"]

    run = dag.test()

    states = _states(run)
    assert run.state == "failed"
    assert states == {
        PREFLIGHT: "failed",
        "dispatch_email": "upstream_failed",
        "dispatch_push": "upstream_failed",
        "dispatch_sms": "upstream_failed",
    }
    logged = _task_output(capfd)
    assert "pool 'lifecycle_delivery_push' does not exist" in logged
    assert '`airflow pools set lifecycle_delivery_push 1 "lifecycle_delivery_push"`' in logged
    assert "task dispatch_push would stay in Scheduled" in logged
    assert "pool 'lifecycle_delivery_email'" not in logged

    # Once the pool exists the check passes (the dispatch tasks themselves are not what is tested here).
    Pool.create_or_update_pool("lifecycle_delivery_push", slots=1, description="test", include_deferred=False)
    capfd.readouterr()
    run = dag.test(mark_success_pattern="dispatch_.*")
    assert run.state == "success"
    assert _states(run)[PREFLIGHT] == "success"
    assert (
        "3 connection(s) and 3 pool(s) exist: lifecycle_links, lifecycle_sandbox, lifecycle_warehouse, "
        "lifecycle_delivery_email, lifecycle_delivery_push, lifecycle_delivery_sms"
    ) in _task_output(capfd)
