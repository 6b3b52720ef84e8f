"""The plugin pages rendered by FastAPI's TestClient on hand-built rows, and their access check."""

import importlib.util
import json
from pathlib import Path

import pytest
from ui_rows import PREVIOUS_RUN, RUN, _rows_module, build_ui_warehouse

SECRET = "test-shared-secret"
JWT_SECRET = "a-test-only-jwt-signing-secret-of-sixty-four-bytes-for-hs512-ok!"


@pytest.fixture(scope="module")
def ui_warehouse(tmp_path_factory):
    return build_ui_warehouse(tmp_path_factory.mktemp("ui") / "warehouse.duckdb")


@pytest.fixture
def client(ui_warehouse, monkeypatch):
    from fastapi.testclient import TestClient

    from lifecycle_providers.ui import app as ui

    monkeypatch.setenv("AIRFLOW__LIFECYCLE__UI_SHARED_SECRET", SECRET)
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", JWT_SECRET)
    real, error = ui.chain_map()
    ui.app.dependency_overrides[ui.warehouse_url] = lambda: str(ui_warehouse.url)
    ui.app.dependency_overrides[ui.chain_map] = lambda: ({**real, **_rows_module().CHAINS}, error)
    ui.app.dependency_overrides[ui.airflow_run_state] = lambda: None  # Airflow's state: see below
    yield TestClient(ui.app)
    ui.app.dependency_overrides.clear()


AUTH = {"X-Lifecycle-Secret": SECRET}


def test_anonymous_requests_are_refused(client):
    for path in (f"/runs/lifecycle_chains/{RUN}", "/overview"):
        response = client.get(path)
        assert response.status_code == 401
        assert "Войдите" in response.text
        assert "Funnel" not in response.text
    assert client.get("/overview", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
    assert client.get("/overview", headers={"X-Lifecycle-Secret": "wrong"}).status_code == 401


def test_an_airflow_jwt_is_accepted_as_bearer_or_cookie(airflow_db, client, monkeypatch):
    monkeypatch.delenv("AIRFLOW__LIFECYCLE__UI_SHARED_SECRET")
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = create_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    assert client.get("/overview", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    client.cookies.set("_token", token)
    assert client.get("/runs/lifecycle_ingest/ingest-run").status_code == 200


def test_chains_run_summary(client):
    response = client.get(f"/runs/lifecycle_chains/{RUN}", headers=AUTH)
    assert response.status_code == 200
    html = response.text
    assert "Воронка по шагам / Funnel by step" in html
    assert "<svg" in html
    assert PREVIOUS_RUN in html  # compared with the previous run
    assert "role='alert'" not in html  # a finished run has no banner
    # per chain: entered and exited by reason, then what was decided, in plain words instead of codes
    assert "Цепочки: вход, выход, решения / Chains: entered, exited, decided" in html
    assert "3: купил / made a purchase: 2; перешёл в цепочку welcome / moved to chain welcome: 1" in html
    assert "тихие часы / quiet hours: 1" in html
    assert "дневной лимит / daily cap reached: 1" in html
    assert "quiet_hours 1" not in html
    assert "sandbox" in html  # sends by provider
    # the legend: every stage and every reason counted in this run, code and meaning
    assert "Легенда / Legend" in html
    assert (
        "<dt>тихие часы / quiet hours (quiet_hours)</dt><dd>inside the customer&#x27;s quiet hours</dd>"
        in html
    )
    assert "<dt>купил / made a purchase (purchased)</dt>" in html
    assert "<dt>Отклонено / Suppressed</dt>" in html
    # the digest, rendered as HTML, in the funnel's vocabulary
    assert "<h3>Цепочки / Chains</h3>" in html
    assert "Entered (вошли) <strong>4</strong>" in html
    assert "Due (к отправке) <strong>5</strong>" in html
    assert "Held back (отложено) 1 · Suppressed (отклонено) 1" in html
    assert "Planned (запланировано) <strong>2</strong>" in html
    assert "Sent (отправлено) <strong>1</strong>" in html
    assert "**" not in html
    assert "<li>cart: entered 4, due 5 → planned 2, sent 1, failed 1</li>" in html
    # what the contact policy, re-checked at the moment of sending, held back: reason, state, legend
    assert "В момент отправки / At the moment of sending" in html
    assert "слишком рано после прошлого / too soon after the last message" in html
    assert "too soon after the last message actually sent" in html


def test_digest_markdown_is_escaped_and_rendered():
    from lifecycle_providers.ui import render

    html = render.digest("### T <b>\nA **1** · b <i>x</i>\n\n* one **2**\n* two\n\nDetails")
    assert html == (
        "<div class='digest'><h3>T &lt;b&gt;</h3><p>A <strong>1</strong> · b &lt;i&gt;x&lt;/i&gt;</p>"
        "<ul><li>one <strong>2</strong></li><li>two</li></ul><p>Details</p></div>"
    )


def test_an_unfinished_chains_run_says_so(client, ui_warehouse):
    """Steps are due but the contact policy decided none: the run is still going or its hand-off failed."""
    import pandas as pd
    from ui_rows import _due

    run_id = "manual__2026-03-02T12:00:00+00:00"
    with ui_warehouse.begin() as conn:
        ui_warehouse.insert_df(
            conn, "crm.due_steps", pd.DataFrame([_due(run_id, n) | {"instance_id": f"u{n}"} for n in (1, 2)])
        )
    html = client.get(f"/runs/lifecycle_chains/{run_id}", headers=AUTH).text
    assert "<div class='banner running' role='alert'>Запуск не завершён" in html
    assert "This run has not finished: steps are due but the contact policy has decided none yet" in html
    assert "Not finished (не завершён)" in html  # the digest says it too
    empty = client.get("/runs/lifecycle_chains/manual__2026-03-02T13:00:00+00:00", headers=AUTH).text
    assert "This run has recorded nothing yet: it is still running, or no chain finished." in empty


def test_ingest_and_scores_run_summaries(client):
    ingest = client.get("/runs/lifecycle_ingest/ingest-run", headers=AUTH).text
    assert "negative_amount" in ingest
    assert "unknown_customer" in ingest
    assert "quarantined (карантин) <strong>3</strong>" in ingest
    scores = client.get("/runs/lifecycle_scores/scores-run", headers=AUTH).text
    assert "churn model v4" in scores
    assert "0.81" in scores
    assert "recent, one-time, low check" in scores
    other = client.get("/runs/some_other_dag/x", headers=AUTH)
    assert other.status_code == 200
    assert "no run summary" in other.text


def test_crm_overview(client):
    response = client.get("/overview?start=2026-03-01&end=2026-03-31", headers=AUTH)
    assert response.status_code == 200
    html = response.text
    assert "CRM: обзор / CRM overview" in html
    # The cart chain's arms (4 treated, 3 holdout entrants) are too small to say: counts, but no figure.
    assert "4 / 3" in html
    assert "220" not in html
    assert "P(лучший) / P(best)" in html
    assert "bandit (warming up)" in html
    assert "2026-02" in html
    assert "100.0%" in html
    assert "from \\ to" in html
    assert "311" in html
    assert "Карта коммуникаций / Communication map" in html
    assert "abandoned_cart" in html
    assert client.get("/overview?start=2026-03-31&end=2026-03-01", headers=AUTH).status_code == 422


def test_default_period_is_the_last_reported_month(client):
    html = client.get("/overview", headers=AUTH).text
    assert "2026-03-02 — 2026-03-31" in html


def test_busy_duckdb_gives_503(client, ui_warehouse, monkeypatch):
    import duckdb

    from lifecycle_providers.ui import warehouse as ui_warehouse_module

    monkeypatch.setattr(ui_warehouse_module, "LOCK_WAIT_S", 0.2)
    holder = ui_warehouse.url.database
    script = f"import duckdb, time; c = duckdb.connect({holder!r}); print('held', flush=True); time.sleep(20)"
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        from lifecycle_providers.ui.warehouse import WarehouseBusy, reading

        with pytest.raises(WarehouseBusy), reading(f"duckdb:///{holder}?access_mode=read_only", wait_s=0.2):
            pass
    finally:
        proc.kill()
        proc.wait()
    assert duckdb  # imported for the subprocess's sake only


def test_plugin_registers_the_tab_and_the_page():
    spec = importlib.util.spec_from_file_location(
        "lifecycle_ui_plugin", Path(__file__).resolve().parents[3] / "plugins" / "lifecycle_ui_plugin.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugin = module.LifecycleUIPlugin
    views = {v["name"]: v for v in plugin.external_views}
    assert views["Run summary"]["destination"] == "dag_run"
    assert views["Run summary"]["href"] == "lifecycle/runs/{DAG_ID}/{RUN_ID}"
    assert views["CRM overview"]["destination"] == "nav"
    assert plugin.fastapi_apps[0]["url_prefix"] == "/lifecycle"
    json.dumps(plugin.external_views)


def test_chains_run_summary_lists_the_chains_that_failed(client, ui_warehouse):
    import pandas as pd

    run_id = "manual__2026-03-02T11:00:00+00:00"
    with ui_warehouse.begin() as conn:
        ui_warehouse.insert_df(
            conn,
            "crm.chain_run_failures",
            pd.DataFrame(
                [
                    {
                        "run_key": run_id,
                        "chain_id": "abandoned_cart",
                        "phase": "enter",
                        "error": '/x/abandoned_cart.sql, line 11: syntax error at or near "SELEC"',
                        "failed_at": pd.Timestamp("2026-03-02 11:00:05"),
                    }
                ]
            ),
        )
    html = client.get(f"/runs/lifecycle_chains/{run_id}", headers=AUTH).text
    assert "Ошибки цепочек / Failed chains" in html
    assert "Брошенная корзина / Abandoned cart" in html
    assert "line 11: syntax error at or near &quot;SELEC&quot;" in html
    assert "Failed chains (ошибка цепочки): abandoned_cart (enter)" in html  # the digest says it too
    assert "<div class='banner failed' role='alert'>Запуск завершился с ошибкой" in html
    assert "This run failed: the chains abandoned_cart did not finish and are missing below." in html
    assert html.index("banner failed") < html.index("Кратко / Digest")  # first thing on the tab


def test_overview_says_when_a_figure_cannot_be_meaningful(client, ui_warehouse):
    """An empty period, a migration from a date to itself and sends without delivery reports are explained,
    not shown as tables of zeros."""
    empty = client.get("/overview?start=2025-01-01&end=2025-01-31", headers=AUTH).text
    assert "No chain sent anything and no one entered a holdout in this period" in empty
    assert "Отправлено / Sent" not in empty
    assert "No RFM scores up to the end of the period." in empty
    assert "from \\ to" not in empty

    with ui_warehouse.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO crm.report_rfm_migration (from_date, to_date, from_code, to_code, customers)"
            " VALUES ('2026-04-30', '2026-04-30', '311', '311', 1),"
            " ('2026-04-30', '2026-04-30', 'new', '333', 2)"
        )
        conn.exec_driver_sql(  # 29 sent through the sandbox, which reports no deliveries
            "INSERT INTO crm.report_chain_daily VALUES ('2026-04-30', 'welcome', 'email_1', 'email',"
            " 'sandbox', 'A', 29, 29, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0, 0.0)"
        )
    try:
        html = client.get("/overview?start=2026-04-01&end=2026-04-30", headers=AUTH).text
    finally:
        with ui_warehouse.begin() as conn:
            conn.exec_driver_sql("DELETE FROM crm.report_rfm_migration WHERE to_date = '2026-04-30'")
            conn.exec_driver_sql("DELETE FROM crm.report_chain_daily WHERE sent_day = '2026-04-30'")
    assert "Only one scored date so far: a migration needs two different dates" in html
    assert "from \\ to" not in html
    assert "нет отчётов / no reports" in html
    assert "the sandbox provider writes messages to files and sends no delivery reports" in html


@pytest.mark.parametrize(
    ("state", "banner"),
    [
        ("running", "This run is still running: the figures below are incomplete; reload later."),
        ("queued", "This run is still queued: the figures below are incomplete; reload later."),
        ("failed", "This run failed: see its task instances; the figures below may be incomplete."),
        ("success", None),
    ],
)
def test_airflow_run_state_sets_the_banner(client, state, banner):
    """Airflow's own state of the run, when the plugin can read it, says a run is still going or failed even
    where the warehouse's records look complete."""
    from lifecycle_providers.ui import app as ui

    ui.app.dependency_overrides[ui.airflow_run_state] = lambda: state
    html = client.get(f"/runs/lifecycle_chains/{RUN}", headers=AUTH).text
    if banner is None:
        assert "role='alert'" not in html
    else:
        assert banner in html
        assert html.index("role='alert'") < html.index("Кратко / Digest")


def test_airflow_run_state_is_read_from_the_metadata_database(airflow_db):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    from lifecycle_providers.ui.app import airflow_run_state

    with create_session() as session:
        session.add(
            DagRun(
                dag_id="lifecycle_chains",
                run_id="ui-state-run",
                run_type=DagRunType.MANUAL,
                state=DagRunState.RUNNING,
            )
        )
    try:
        assert airflow_run_state("lifecycle_chains", "ui-state-run") == "running"
        assert airflow_run_state("lifecycle_chains", "no-such-run") is None
    finally:
        with create_session() as session:
            session.query(DagRun).filter(DagRun.run_id == "ui-state-run").delete()
