"""The pages in a real browser: `airflow standalone` on a free port with a temporary AIRFLOW_HOME and a small
hand-built warehouse, headless Chromium logged in as admin, the Run summary tab of a chains run and the CRM
overview page opened through the Airflow UI. Screenshots go to test-artifacts/ (git-ignored).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ui_rows import RUN, build_ui_warehouse

pytestmark = pytest.mark.airflow
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
IFRAME_TEXT = (
    "(() => { const f = document.querySelector('iframe');"
    " return f && f.contentDocument && f.contentDocument.body ? f.contentDocument.body.innerText : ''; })()"
)
BODY_TEXT = "document.body ? document.body.innerText : ''"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception:  # not up yet
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what} not ready after {timeout:.0f} s")


@pytest.fixture(scope="module")
def airflow_ui(tmp_path_factory):
    """airflow standalone serving this project's DAGs and plugin over the hand-built warehouse."""
    import httpx

    sys.path.insert(0, str(ROOT / "scripts"))
    from local_env import UI_LOGIN, airflow_env, write_login

    home = tmp_path_factory.mktemp("airflow-ui")
    warehouse_file = home / "warehouse.duckdb"
    build_ui_warehouse(warehouse_file).engine.dispose()
    port = _free_port()
    env = airflow_env() | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # the runs below stay queued
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": "browser-test-only-jwt-secret-" + "x" * 40,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{UI_LOGIN[0]}:admin",
        "AIRFLOW__SCHEDULER__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__TRIGGERER__TRIGGERER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW_CONN_LIFECYCLE_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(warehouse_file)}),
        # standalone starts its components as `airflow …` from PATH: the virtualenv's.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    write_login(env)
    log = (home / "standalone.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow", "standalone"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        client = httpx.Client(base_url=base, timeout=10)
        _wait(lambda: client.get("/api/v2/monitor/health").status_code == 200, 75, "api-server")
        token = client.post("/auth/token", json={"username": UI_LOGIN[0], "password": UI_LOGIN[1]}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        dag_url = "/api/v2/dags/lifecycle_chains"
        _wait(lambda: client.get(dag_url, headers=headers).status_code == 200, 60, "DAGs")
        created = client.post(
            "/api/v2/dags/lifecycle_chains/dagRuns",
            headers=headers,
            json={"dag_run_id": RUN, "logical_date": None},
        )
        assert created.status_code in (200, 201), created.text
        yield {"base": base, "token": token["access_token"], "log": home / "standalone.log"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def browser():
    from browser import Chromium

    chromium = Chromium()
    yield chromium
    chromium.close()


def test_anonymous_plugin_request_is_refused(airflow_ui):
    import httpx

    response = httpx.get(f"{airflow_ui['base']}/lifecycle/overview", timeout=10)
    assert response.status_code == 401


def test_run_summary_tab_and_crm_page_in_the_browser(airflow_ui, browser):
    from urllib.parse import quote

    base = airflow_ui["base"]
    browser.set_cookie("_token", airflow_ui["token"], base)

    browser.open(f"{base}/dags/lifecycle_chains/runs/{quote(RUN, safe='')}/plugin/run-summary")
    text = browser.wait_for_text(IFRAME_TEXT, ["Funnel by step", "Legend", "sandbox"])
    assert "Run summary" in browser.evaluate(BODY_TEXT)  # the tab on Airflow's run page
    assert "Отправки по каналам и провайдерам" in text
    browser.screenshot(ARTIFACTS / "run-summary-tab.png")


def test_run_summary_explains_entered_sent_and_held_in_plain_words(airflow_ui, browser):
    """The marketer's view of a run: how many entered, left (and why), were sent and held back, with every
    reason in plain Russian and English and a legend; the digest is formatted, not raw Markdown."""
    from urllib.parse import quote

    base = airflow_ui["base"]
    browser.set_cookie("_token", airflow_ui["token"], base)
    browser.open(f"{base}/dags/lifecycle_chains/runs/{quote(RUN, safe='')}/plugin/run-summary")
    text = browser.wait_for_text(IFRAME_TEXT, ["Chains: entered, exited, decided", "Легенда / Legend"])
    # the DAG is paused, so the run stays queued: Airflow's own state heads the tab
    assert "This run is still queued: the figures below are incomplete" in text
    assert text.index("still queued") < text.index("Кратко / Digest")
    # the digest at the top, in the funnel's words and rendered (no Markdown markers)
    assert "Entered (вошли) 4" in text
    assert "Sent (отправлено) 1" in text
    assert "Held back (отложено) 1 · Suppressed (отклонено) 1" in text
    assert "**" not in text
    assert "###" not in text
    # per chain: entered, exited by reason, held back and suppressed by reason, sent
    assert "купил / made a purchase: 2" in text
    assert "перешёл в цепочку welcome / moved to chain welcome: 1" in text
    assert "тихие часы / quiet hours: 1" in text
    assert "дневной лимит / daily cap reached: 1" in text
    assert "quiet_hours 1" not in text  # no raw code counts
    # the legend: stages and every reason of this run, with its code and meaning
    legend = text[text.index("Легенда / Legend") :]
    assert "Отложено / Held back" in legend
    assert "not sent now, due again in a later run" in legend
    assert "тихие часы / quiet hours (quiet_hours)" in legend
    assert "inside the customer's quiet hours" in legend
    assert "купил / made a purchase (purchased)" in legend
    assert "the customer bought something after entering" in legend
    browser.screenshot(ARTIFACTS / "run-summary-explained.png")

    browser.open(f"{base}/plugin/crm-overview")
    text = browser.wait_for_text(
        IFRAME_TEXT, ["CRM: обзор / CRM overview", "Incremental revenue", "Communication map"]
    )
    assert "4 / 3" in text  # the cart chain's treated / holdout entrants (too few for a figure)
    browser.screenshot(ARTIFACTS / "crm-overview-nav.png")

    # The page itself, full length, for the record.
    browser.open(f"{base}/lifecycle/overview?start=2026-03-01&end=2026-03-31")
    browser.wait_for_text(BODY_TEXT, ["Карта коммуникаций", "P(best)"])
    browser.screenshot(ARTIFACTS / "crm-overview-full.png", full_page=True)
