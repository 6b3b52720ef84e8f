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
    real, error, problems = ui.chain_map(ui.chains_folder())
    ui.app.dependency_overrides[ui.warehouse_url] = lambda: str(ui_warehouse.url)
    ui.app.dependency_overrides[ui.chain_map] = lambda: ({**real, **_rows_module().CHAINS}, error, problems)
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
    assert "Корзина / Cart" in html
    assert "P(лучший) / P(best)" in html
    assert "bandit (warming up)" in html
    assert "2026-02" in html
    assert "100.0%" in html
    assert "from \\ to" in html
    assert "311" in html
    assert "Карта коммуникаций / Communication map" in html
    assert "abandoned_cart" in html
    assert client.get("/overview?start=2026-03-31&end=2026-03-01", headers=AUTH).status_code == 422


def test_crm_overview_shows_the_days_to_the_expected_next_order_per_segment(client):
    import re

    html = client.get("/overview?start=2026-03-01&end=2026-03-31", headers=AUTH).text
    start = html.index("Ожидаемый следующий заказ / Expected next order")
    section = html[start : html.index("<h2>", start + 10)]
    assert "As of 2026-03-31" in section
    cells = {
        row[0]: row[1:]
        for row in (
            re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S)
        )
        if row
    }
    # customers, median days, due within 7, 8-30, 31-90, over 90 days
    assert cells["311"][1:7] == ["1", "5", "1", "0", "0", "0"]
    assert cells["333"][1:7] == ["1", "20", "0", "1", "0", "0"]
    assert cells["111"][1:7] == ["1", "–", "0", "0", "0", "0"]  # scored, but no date


def test_the_expected_next_order_section_says_when_there_are_no_dates(client):
    html = client.get("/overview?start=2026-02-01&end=2026-02-28", headers=AUTH).text
    assert "No expected next orders yet" in html


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


def _row(html: str, needle: str) -> str:
    """The table row (``<tr …>…</tr>``) of a page that contains ``needle``."""
    import re

    rows = [row for row in re.findall(r"<tr[^>]*>.*?</tr>", html, flags=re.S) if needle in row]
    assert len(rows) == 1, (needle, rows)
    return rows[0]


def _arm(day, chain_id, arm, n, mean, sd, buyers=None):
    """A holdout-table row of ``n`` entrants whose revenue has this mean and (population) deviation; half of
    them bought unless ``buyers`` says otherwise."""
    total = n * mean
    return (day, chain_id, arm, n, n // 2 if buyers is None else buyers, total, n * (mean * mean + sd * sd))


def test_incremental_revenue_is_shown_only_where_the_reports_give_it(client, ui_warehouse):
    """The page shows a figure only where the reports' chain effect has one, else the reason's label; a
    chain with too few buyers for revenue still shows its conversion uplift; A/B steps show their winner or
    why there is none; the reports run note says the same in the same words."""
    from datetime import date

    from lifecycle.reports.digest import reports_digest
    from lifecycle.reports.read import overview
    from lifecycle.reports.stats import MIN_BUYERS_PER_ARM, MIN_ENTRANTS_PER_ARM

    day = "2026-05-10"
    arms = [
        # a gain: 80 per entrant, standard error about 18, so the 95 % interval excludes zero
        _arm(day, "welcome", "treated", 900, 100.0, 200.0),
        _arm(day, "welcome", "holdout", 150, 20.0, 200.0),
        # 5 per entrant with the same noise: not significant
        _arm(day, "win_back", "treated", 900, 100.0, 200.0),
        _arm(day, "win_back", "holdout", 150, 95.0, 200.0),
        # one holdout entrant short of the rule
        _arm(day, "birthday", "treated", 400, 100.0, 200.0),
        _arm(day, "birthday", "holdout", MIN_ENTRANTS_PER_ARM - 1, 0.0, 200.0),
        # entrants in both arms, but nothing was sent
        _arm(day, "seasonal", "treated", 900, 100.0, 200.0),
        _arm(day, "seasonal", "holdout", 150, 20.0, 200.0),
        # enough entrants, too few buyers for revenue (pooled 5 % of 200 = 10 expected in the holdout), but
        # conversion 8 % against 2 %: a significant conversion gain
        _arm(day, "price_drop", "treated", 1000, 10.0, 50.0, buyers=80),
        _arm(day, "price_drop", "holdout", 200, 2.0, 20.0, buyers=4),
    ]
    sends = [("welcome", 500), ("win_back", 300), ("birthday", 50), ("price_drop", 400)]
    variants = [("cross_sell", "A", 500, 10), ("cross_sell", "B", 500, 80), ("ecosystem", "A", 40, 1)]
    variants += [("ecosystem", "B", 40, 2)]
    with ui_warehouse.begin() as conn:
        for row in arms:
            conn.exec_driver_sql(
                "INSERT INTO crm.report_holdout_daily (entry_day, chain_id, arm, entrants, buyers, revenue,"
                " revenue_sq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        for chain, sent in sends:
            conn.exec_driver_sql(
                "INSERT INTO crm.report_chain_daily VALUES (?, ?, 'email_1', 'email', 'sandbox', 'A', ?, ?,"
                " 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0, 12345.0)",
                (day, chain, sent, sent),
            )
        for chain, variant, sent, converted in variants:
            conn.exec_driver_sql(
                "INSERT INTO crm.report_chain_daily VALUES (?, ?, 'email_1', 'email', 'sandbox', ?, ?, ?,"
                " 0, 0, 0, 0, 0, 0, 0, 0, 0, ?, 0, 0.0, 0, 0.0)",
                (day, chain, variant, sent, sent, converted),
            )
    try:
        html = client.get("/overview?start=2026-05-01&end=2026-05-31", headers=AUTH).text
        data = overview(ui_warehouse, date(2026, 5, 1), date(2026, 5, 31))
    finally:
        with ui_warehouse.begin() as conn:
            conn.exec_driver_sql("DELETE FROM crm.report_holdout_daily WHERE entry_day = ?", (day,))
            conn.exec_driver_sql("DELETE FROM crm.report_chain_daily WHERE sent_day = ?", (day,))

    effects = {c["chain_id"]: c["uplift"] for c in data["chains"]}
    assert effects["birthday"]["reason"] == "too_few_entrants"
    assert effects["seasonal"]["reason"] == "no_sends"
    assert effects["price_drop"]["reason"] == "too_few_buyers"
    assert effects["price_drop"]["conversion_significant"]
    assert effects["cross_sell"]["reason"] == "no_entrants"  # sent, but no one entered in the period

    kpis = html[html.index("Chain KPIs and incremental revenue") : html.index("<h2>Шаги / Steps")]
    welcome = _row(kpis, "<td>Приветствие / Welcome</td>")
    assert "<tr>" in welcome  # shown in full
    assert "72\u202f000\u00a0₽" in welcome  # 80 per entrant × 900 treated, with the currency
    assert "значимо при 95 % (прирост) / significant at 95 % (a gain)" in welcome
    assert "12\u202f345\u00a0₽" in welcome  # first-touch revenue, with the currency too
    win_back = _row(kpis, "<td>Реактивация / Win-back</td>")
    assert "не значимо при 95 % / not significant at 95 %" in win_back
    assert "4\u202f500\u00a0₽" in win_back
    birthday = _row(kpis, "<td>День рождения / Birthday</td>")
    assert birthday.startswith("<tr class='muted'>")
    too_small = "слишком мало клиентов / too small to say"
    assert too_small in birthday
    assert f"fewer than {MIN_ENTRANTS_PER_ARM} entrants" in birthday  # the meaning, as the tooltip
    assert "₽" not in birthday.split(too_small)[1]  # no figure after the reason
    seasonal = _row(kpis, "<td>Сезонные подборки / Seasonal picks</td>")
    assert seasonal.startswith("<tr class='muted'>")
    assert "ничего не отправлено / nothing sent" in seasonal
    price_drop = _row(kpis, "<td>Снижение цены / Price drop</td>")
    assert "<tr>" in price_drop  # conversion is given, so not greyed out
    assert "слишком мало покупателей / too few buyers to say" in price_drop
    assert "+6.0\u00a0pp [" in price_drop  # 8 % − 2 %
    assert "₽</td>" not in price_drop.split("too few buyers to say")[1].split("pp")[0]
    cross_sell = _row(kpis, "<td>Сопутствующие товары / Cross-sell</td>")
    assert "нет вошедших / no entrants" in cross_sell
    assert "Incremental revenue, ₽" in html
    assert f"an arm has fewer than {MIN_ENTRANTS_PER_ARM} entrants" in html
    assert f"fewer than {MIN_BUYERS_PER_ARM} buyers are expected" in html

    ab = html[html.index("A/B tests and bandit weights") :]
    assert "Итог / Result" in ab
    assert "победитель: B / winner: B" in _row(ab, "<td>cross_sell</td><td>email_1</td><td>B</td>")
    too_early = _row(ab, "<td>ecosystem</td><td>email_1</td><td>A</td>")
    assert "слишком мало отправок / too early to say" in too_early

    note = reports_digest({"report_date": date(2026, 5, 31), "recomputed_from": date(2026, 5, 1)}, data)
    assert "* welcome: incremental revenue 72\u202f000\u00a0₽ [" in note
    assert "significant at 95 % (a gain)" in note
    assert "* win_back: incremental revenue 4\u202f500\u00a0₽ [" in note
    assert "not significant at 95 %" in note
    assert f"* no figure, {too_small}: birthday" in note
    assert "* no figure, ничего не отправлено / nothing sent: seasonal" in note
    assert "* no figure, нет вошедших / no entrants: cross_sell, ecosystem" in note
    assert "more" not in note  # everything fits
    assert "step" not in note  # no step with its own holdout in May
    assert (
        "* price_drop: incremental revenue not shown: слишком мало покупателей / too few buyers to say; "
        "conversion +6.0\u00a0pp [" in note
    )


def test_a_measured_loss_is_shown_as_a_loss_not_greyed_out(client, ui_warehouse):
    """A chain whose revenue and conversion are significantly below its holdout's (a fatiguing chain) is
    shown in full, with its negative figures and the verdict "a loss" in red."""
    day = "2026-05-11"
    with ui_warehouse.begin() as conn:
        # 20 per entrant against 100 in the holdout, 10 % buyers against 30 %
        for row in (
            _arm(day, "abandoned_browse", "treated", 900, 20.0, 200.0, buyers=90),
            _arm(day, "abandoned_browse", "holdout", 900, 100.0, 200.0, buyers=270),
        ):
            conn.exec_driver_sql(
                "INSERT INTO crm.report_holdout_daily (entry_day, chain_id, arm, entrants, buyers, revenue,"
                " revenue_sq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        conn.exec_driver_sql(
            "INSERT INTO crm.report_chain_daily VALUES (?, 'abandoned_browse', 'email_1', 'email', 'sandbox',"
            " 'A', 700, 700, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0, 0.0)",
            (day,),
        )
    try:
        html = client.get("/overview?start=2026-05-11&end=2026-05-11", headers=AUTH).text
    finally:
        with ui_warehouse.begin() as conn:
            conn.exec_driver_sql("DELETE FROM crm.report_holdout_daily WHERE entry_day = ?", (day,))
            conn.exec_driver_sql("DELETE FROM crm.report_chain_daily WHERE sent_day = ?", (day,))
    kpis = html[html.index("Chain KPIs and incremental revenue") : html.index("<h2>Шаги / Steps")]
    browse = _row(kpis, "<td>Брошенный просмотр / Abandoned browse</td>")
    assert browse.startswith("<tr>")  # not greyed out
    assert "72\u202f000\u00a0₽" in browse  # −80 per entrant × 900 treated
    loss = "<span class='verdict down'>значимо при 95 % (потеря) / significant at 95 % (a loss)</span>"
    assert browse.count(loss) == 2  # revenue and conversion
    assert "20.0\u00a0pp [" in browse  # 10 % − 30 %


def test_the_fixture_chain_with_three_holdout_entrants_shows_no_figure(client, ui_warehouse):
    """The cart chain's one send went to no entrant of the period: the reports say ``no_sends`` (checked
    before the arm sizes) and the page says the same."""
    from datetime import date

    from lifecycle.reports.read import overview

    effect = next(
        c["uplift"]
        for c in overview(ui_warehouse, date(2026, 3, 1), date(2026, 3, 31))["chains"]
        if c["chain_id"] == "cart"
    )
    assert (effect["holdout"], effect["messaged"], effect["reason"]) == (3, 0, "no_sends")
    html = client.get("/overview?start=2026-03-01&end=2026-03-31", headers=AUTH).text
    kpis = html[html.index("Chain KPIs and incremental revenue") : html.index("<h2>Шаги / Steps")]
    cart = _row(kpis, "<td>Корзина / Cart</td>")
    assert cart.startswith("<tr class='muted'>")
    assert "ничего не отправлено / nothing sent" in cart
    assert "the chain sent nothing to its entrants of the period" in cart  # the meaning, as the tooltip
    assert "220" not in cart  # 55 per entrant × 4 treated, from 3 holdout entrants: meaningless


# --- the audience preview ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_shop(tmp_path_factory):
    """The demo shop, ingested; no chain has run, so a preview looks back over the first-run window."""
    from demo_run import build_demo_shop

    return build_demo_shop(tmp_path_factory.mktemp("preview") / "warehouse.duckdb")


@pytest.fixture
def chains_copy(tmp_path):
    import shutil

    from lifecycle.chains.config import CHAINS_DIR

    return Path(shutil.copytree(CHAINS_DIR, tmp_path / "chains"))


@pytest.fixture
def preview_client(demo_shop, chains_copy, monkeypatch):
    from fastapi.testclient import TestClient

    from lifecycle_providers.ui import app as ui

    monkeypatch.setenv("AIRFLOW__LIFECYCLE__UI_SHARED_SECRET", SECRET)
    monkeypatch.setenv("LIFECYCLE_CHECK_TEMPLATES", "0")  # the shipped templates are checked elsewhere
    monkeypatch.setenv("LIFECYCLE_CHAINS_DIR", str(chains_copy))
    ui.app.dependency_overrides[ui.preview_warehouse_url] = lambda: demo_shop
    ui.app.dependency_overrides[ui.warehouse_url] = lambda: f"{demo_shop}?access_mode=read_only"
    yield TestClient(ui.app)
    ui.app.dependency_overrides.clear()


def _entering(html: str) -> int:
    import re

    return int(re.search(r"<strong id='entering'>(\d+)</strong>", html)[1])


def test_audience_preview_shows_what_the_command_line_shows_and_writes_nothing(preview_client, demo_shop):
    from demo_run import END

    from lifecycle.chains.config import CHAINS_DIR, load_chain
    from lifecycle.chains.preview import preview_chain
    from lifecycle.reports.labels import reason_text, stage_text
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(demo_shop)
    expected = preview_chain(warehouse, load_chain(CHAINS_DIR / "abandoned_cart.yaml", False), END)
    assert expected.entering > 0  # the page below has something to show
    assert expected.entrants_policy
    with warehouse.begin() as conn:
        before = conn.exec_driver_sql("SELECT COUNT(*) FROM crm.chain_instances").scalar()
    warehouse.engine.dispose()

    response = preview_client.get(f"/chains/abandoned_cart/preview?at={END:%Y-%m-%dT%H:%M}", headers=AUTH)
    assert response.status_code == 200
    html = response.text
    assert "Предпросмотр аудитории / Audience preview — Брошенная корзина / Abandoned cart" in html
    assert f"at {END:%Y-%m-%d %H:%M} UTC" in html
    assert _entering(html) == expected.entering
    assert "nothing was written or sent" in html
    for row in expected.sample:  # customer id, trigger time and key, as the command line prints them
        assert f"<td>{row['customer_id']}</td><td>{row['triggered_at']:%Y-%m-%d %H:%M:%S}</td>" in html
        assert f"<td>{row['trigger_key']}</td>" in html
    assert "trigger_value" not in html
    assert "product_ids" not in html
    for row in expected.entrants_policy:  # per outcome and reason, in plain words
        cells = f"<td>{stage_text(row['outcome'])}</td><td>{reason_text(row['reason'])}</td>"
        assert f"{cells}<td class='n'>{row['steps']}</td>" in html.replace("&#x27;", "'")
    assert "Легенда / Legend" in html

    warehouse = Warehouse(demo_shop)
    with warehouse.begin() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM crm.chain_instances").scalar() == before
    warehouse.engine.dispose()


def test_preview_needs_the_same_access_as_the_pages(preview_client):
    assert preview_client.get("/chains/abandoned_cart/preview").status_code == 401
    wrong = {"X-Lifecycle-Secret": "wrong"}
    assert preview_client.get("/chains/abandoned_cart/preview", headers=wrong).status_code == 401


def test_every_chain_has_a_preview_action_on_the_overview(preview_client):
    from lifecycle.chains.config import chain_ids

    html = preview_client.get("/overview", headers=AUTH).text
    assert "Цепочки и их аудитория / Chains and their audience" in html
    for chain_id in chain_ids():
        assert f"<form class='preview' method='get' action='chains/{chain_id}/preview'>" in html
    assert html.count("Предпросмотр аудитории / Preview audience</button>") == len(chain_ids())


def test_an_unknown_chain_or_time_is_explained(preview_client):
    missing = preview_client.get("/chains/no_such_chain/preview", headers=AUTH)
    assert missing.status_code == 404
    assert "There is no chain &#x27;no_such_chain&#x27;" in missing.text
    assert "abandoned_cart" in missing.text  # the known ones
    assert preview_client.get("/chains/..%2F..%2Fetc/preview", headers=AUTH).status_code == 404
    bad_time = preview_client.get("/chains/abandoned_cart/preview?at=yesterday", headers=AUTH)
    assert bad_time.status_code == 422
    assert "is not a time; use YYYY-MM-DDTHH:MM (UTC)" in bad_time.text


def test_a_broken_chain_file_is_named_on_the_page_and_an_edit_shows_at_once(preview_client, chains_copy):
    from demo_run import END

    file = chains_copy / "abandoned_cart.yaml"
    good = file.read_text(encoding="utf-8")
    url = f"/chains/abandoned_cart/preview?at={END:%Y-%m-%dT%H:%M}"
    entering = _entering(preview_client.get(url, headers=AUTH).text)

    file.write_text(good.replace("priority: 90", "priority: high"), encoding="utf-8")
    broken = preview_client.get(url, headers=AUTH)
    assert broken.status_code == 422
    assert "The chain cannot be previewed" in broken.text
    assert f"{file}: field &#x27;priority&#x27;" in broken.text
    # the overview still lists every chain, the broken one with its problem, and still offers its preview
    overview = preview_client.get("/overview", headers=AUTH).text
    assert f"{file}: field &#x27;priority&#x27;" in overview
    assert "action='chains/abandoned_cart/preview'" in overview
    assert (
        "Брошенная корзина / Abandoned cart"
        not in overview.split("Chains and their audience")[1].split("Communication map")[0]
    )  # the broken chain is listed by its id only
    assert "Приветственная цепочка / Welcome" in overview

    file.write_text("id: abandoned_cart\nsteps: [\n", encoding="utf-8")
    syntax = preview_client.get(url, headers=AUTH)
    assert syntax.status_code == 422
    assert f"{file}: field &#x27;(file)&#x27;: it is not valid YAML" in syntax.text

    # a narrower window, written to the file: the next preview uses it, nothing is restarted
    lookback = "  params: {cart_days: 3}\n  first_run_lookback: 1m"
    file.write_text(good.replace("  params: {cart_days: 3}", lookback))
    narrowed = preview_client.get(url, headers=AUTH)
    assert narrowed.status_code == 200
    assert _entering(narrowed.text) < entering


def test_a_broken_entry_query_is_named_with_its_file_and_line(preview_client, tmp_path, monkeypatch):
    """The SQL files a preview reads follow LIFECYCLE_SQL_DIR (here a copy, set as the api-server would read
    it at start) and are re-read when they change."""
    import shutil

    from demo_run import END

    from lifecycle import sql
    from lifecycle.chains import config, validation
    from lifecycle.paths import SQL_DIR

    copy = Path(shutil.copytree(SQL_DIR, tmp_path / "sql"))
    for module in (sql, config, validation):
        monkeypatch.setattr(module, "SQL_DIR", copy)
    query = copy / "chains" / "abandoned_cart.sql"
    good = query.read_text(encoding="utf-8")
    url = f"/chains/abandoned_cart/preview?at={END:%Y-%m-%dT%H:%M}"
    entering = _entering(preview_client.get(url, headers=AUTH).text)

    query.write_text(good.replace("WITH purchases AS (\n    SELECT", "WITH purchases AS (\n    SELEC", 1))
    line = good.splitlines().index("    SELECT") + 1
    broken = preview_client.get(url, headers=AUTH)
    assert broken.status_code == 422
    assert f"{query}, line {line}: " in broken.text
    assert "syntax error at or near &quot;SELEC&quot;" in broken.text
    assert "(entry query of chain abandoned_cart)" in broken.text

    query.write_text(good.replace("FROM items\nGROUP BY", "FROM items\nWHERE FALSE\nGROUP BY", 1))
    assert _entering(preview_client.get(url, headers=AUTH).text) == 0 < entering


def test_a_preview_waits_briefly_for_a_busy_duckdb_file_then_says_so(preview_client, demo_shop, monkeypatch):
    import subprocess
    import sys

    from lifecycle_providers.ui import warehouse as ui_warehouse_module

    monkeypatch.setattr(ui_warehouse_module, "LOCK_WAIT_S", 0.3)
    holder = demo_shop.removeprefix("duckdb:///")
    script = f"import duckdb, time; c = duckdb.connect({holder!r}); print('held', flush=True); time.sleep(20)"
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        busy = preview_client.get("/chains/abandoned_cart/preview", headers=AUTH)
    finally:
        proc.kill()
        proc.wait()
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "5"


def test_digest_and_funnel_speak_one_vocabulary(client):
    """Every stage the run's digest counts is a column of the tables under it, under the same words."""
    import re

    from lifecycle.reports.labels import STAGE, stage_text

    html = client.get(f"/runs/lifecycle_chains/{RUN}", headers=AUTH).text
    digest = html[html.index("<div class='digest'>") : html.index("</div>")]
    tables = html[html.index("</div>") :]
    headers = set(re.findall(r"<th>([^<]*)</th>", tables))
    for key, (ru, en) in STAGE.items():
        assert f"{en} ({ru.lower()}) " in digest, key
        # the same words head a column; exits, held back and suppressed are counted by reason
        assert stage_text(key) in headers or f"{ru} по причине / {en} by reason" in headers, key
    assert "Holdout (контроль цепочки) 1 · Global control (глобальный контроль) 0" in digest


def test_a_warehouse_the_preview_cannot_write_to_is_explained(preview_client, demo_shop):
    """The preview writes inside a transaction it rolls back; a read-only warehouse gets a sentence."""
    from lifecycle_providers.ui import app as ui

    ui.app.dependency_overrides[ui.preview_warehouse_url] = lambda: f"{demo_shop}?access_mode=read_only"
    response = preview_client.get("/chains/abandoned_cart/preview", headers=AUTH)
    assert response.status_code == 422
    assert "The chain cannot be previewed" in response.text
    assert "read-only" in response.text


def test_audience_preview_on_postgresql(postgres_warehouse, monkeypatch):
    """The same page on PostgreSQL: the preview's rolled-back transaction leaves the database as it was."""
    from demo_run import CUSTOMERS, END, SEED
    from fastapi.testclient import TestClient

    from lifecycle.chains.config import CHAINS_DIR, load_chain
    from lifecycle.chains.preview import preview_chain
    from lifecycle.demo.config import DemoConfig
    from lifecycle.demo.generator import generate
    from lifecycle.ingest import ingest
    from lifecycle.migrations import migrate
    from lifecycle_providers.ui import app as ui

    warehouse = postgres_warehouse
    migrate(warehouse)
    generate(warehouse, DemoConfig(customers=CUSTOMERS, seed=SEED, end=END))
    ingest(warehouse, window_end=END, run_key="ingest", now=END)
    expected = preview_chain(warehouse, load_chain(CHAINS_DIR / "abandoned_cart.yaml", False), END)
    assert expected.entering > 0

    monkeypatch.setenv("AIRFLOW__LIFECYCLE__UI_SHARED_SECRET", SECRET)
    monkeypatch.setenv("LIFECYCLE_CHECK_TEMPLATES", "0")
    url = warehouse.url.render_as_string(hide_password=False)
    ui.app.dependency_overrides[ui.preview_warehouse_url] = lambda: url
    try:
        html = (
            TestClient(ui.app)
            .get(f"/chains/abandoned_cart/preview?at={END:%Y-%m-%dT%H:%M}", headers=AUTH)
            .text
        )
    finally:
        ui.app.dependency_overrides.clear()
    assert _entering(html) == expected.entering
    with warehouse.begin() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM crm.chain_instances").scalar() == 0
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM crm.decisions").scalar() == 0


def test_crm_overview_shows_the_send_time_lift_and_where_the_hours_come_from(client, ui_warehouse):
    """Per timed chain both arms with their rates and the difference with its interval; a chain with too few
    holdout sends shows no difference and is grey; the basis of the best hours is counted as the policy
    picks it. The figures are the report's own (send_time_lift on the same warehouse)."""
    import re
    from datetime import date
    from html import unescape

    from ui_rows import SEND_TIME_ARMS

    from lifecycle.reports.send_time import MIN_SENDS_PER_ARM, send_time_lift
    from lifecycle.reports.stats import newcombe_difference

    html = client.get("/overview?start=2026-03-01&end=2026-03-31", headers=AUTH).text
    start = html.index("<h2>Лучший час отправки / Send-time lift</h2>")
    section = html[start : html.index("<h2>", start + 10)]
    rows = re.findall(r"<tr( class='muted')?>(.*?)</tr>", section, re.S)
    cells = [
        (bool(muted), [unescape(td) for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)])
        for muted, tr in rows
    ]
    win_back = [c for c in cells if c[1] and c[1][0] == "Реактивация / Win-back"]
    cross_sell = [c for c in cells if c[1] and c[1][0] == "Сопутствующие товары / Cross-sell"]
    assert [len(win_back), len(cross_sell)] == [3, 3]  # best hour, at once, difference

    # win-back: 120 sends opened 40 %, 110 at once opened 20 %: +20 points, the interval above zero, in green
    (_, best), (_, now), (muted, diff) = win_back
    assert not muted
    assert best[1:4] == ["в лучший час / at the best hour", "120", "40.0 %"]
    assert now[1:4] == ["сразу (контроль) / at once (holdout)", "110", "20.0 %"]
    assert best[4] == "10.0 %"  # clicks
    assert now[4] == "4.5 %"
    lift, low, high = newcombe_difference(48, 120, 22, 110)
    assert f"+{100 * lift:.1f}\u00a0pp [+{100 * low:.1f}\u00a0pp; +{100 * high:.1f}\u00a0pp]" in diff[3]
    assert "class='up'" in diff[3]
    assert low > 0

    # cross-sell: 8 sends at once, fewer than the minimum: rates shown, no difference, all three rows grey
    assert SEND_TIME_ARMS[("cross_sell", "default")][0] < MIN_SENDS_PER_ARM
    assert all(muted for muted, _ in cross_sell)
    assert cross_sell[1][1][2] == "8"
    assert "слишком мало отправок, чтобы судить / too few sends to say" in cross_sell[2][1][3]
    assert f"fewer than {MIN_SENDS_PER_ARM} sent messages" in cross_sell[2][1][3]  # the tooltip
    assert "pp" not in "".join(cross_sell[2][1])
    report = {r["chain_id"]: r for r in send_time_lift(ui_warehouse, date(2026, 3, 1), date(2026, 3, 31))}
    assert report["cross_sell"]["reason"] == "too_few_sends"
    assert report["win_back"]["reason"] is None

    # the basis: customer 1 from own responses (08:00, not their segment's 19:00), the cart entrants from
    # the 'none' segment's profile, customer 2 (segment 333 without responses) from the shop's
    assert "as of 2026-03-31" in section
    basis = {c[0]: c[1:] for _, c in cells if c and c[0].startswith(("свои", "профиль"))}
    entrants = ui_warehouse.fetch_all("reports/send_hour_basis.sql", until_date=date(2026, 3, 31))
    total = sum(int(b["customers"]) for b in entrants)
    assert basis["свои отклики / own responses"][0] == "1"
    assert basis["свои отклики / own responses"][2] == "1"  # own hour differs from the segment's
    assert basis["профиль магазина / the shop's profile"][0] == "1"
    segment = basis["профиль сегмента RFM / RFM segment's profile"]
    assert segment[0] == str(total - 2)
    assert segment[1] == f"{100 * (total - 2) / total:.1f} %"


def test_the_send_time_section_says_when_nothing_timed_was_sent(client):
    html = client.get("/overview?start=2026-02-01&end=2026-02-28", headers=AUTH).text
    start = html.index("<h2>Лучший час отправки / Send-time lift</h2>")
    section = html[start : html.index("<h2>", start + 10)]
    assert "No message of a send_time: optimal step was sent in this period" in section
    assert "No best hours learned yet" in section  # nothing learned up to February


STEP_LIFT = "<h2>Окупается ли шаг: его собственный holdout / Step lift: does the step earn its cost?</h2>"


def _section_rows(html: str, heading: str) -> list[tuple[bool, list[str]]]:
    """The body rows of the section under ``heading``: (greyed out, cell texts with tags kept)."""
    import re
    from html import unescape

    start = html.index(heading)
    section = html[start : html.index("<h2>", start + 10)]
    return [
        (bool(muted), [unescape(td) for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)])
        for muted, tr in re.findall(r"<tr( class='muted')?>(.*?)</tr>", section, re.S)
        if "<td" in tr
    ]


def test_crm_overview_shows_each_step_lift_against_its_cost(client, ui_warehouse):
    """Per step with its own holdout: the customers of both arms, incremental orders and revenue with their
    95 % intervals, the cost of its messages, the net and the verdict in words; a step with too few customers
    is grey with the reason and no figure. The figures are the report's own (step_lift on the same
    warehouse)."""
    from datetime import date

    from ui_rows import SMS_COST, STEP_HOLDOUT_ARMS

    from lifecycle.reports.stats import MIN_ENTRANTS_PER_ARM
    from lifecycle.reports.step_lift import step_lift
    from lifecycle.reports.uplift_verdict import money_text

    html = client.get("/overview?start=2026-03-01&end=2026-03-31", headers=AUTH).text
    assert html.index("<h2>Шаги / Steps</h2>") < html.index(STEP_LIFT)  # next to the other per-step figures
    cells = _section_rows(html, STEP_LIFT)
    assert len(cells) == 3
    report = {r["chain_id"]: r for r in step_lift(ui_warehouse, date(2026, 3, 1), date(2026, 3, 31))}

    # win-back's SMS: half of 150 treated bought against 18 of 120 held out, 150 SMS at 6.00 each
    by_chain = {c[1][0]: c for c in cells}
    muted, win_back = by_chain["Реактивация / Win-back"]
    cross_sell_muted, cross_sell = by_chain["Сопутствующие товары / Cross-sell"]
    birthday_muted, birthday = by_chain["День рождения / Birthday"]
    row = report["win_back"]
    assert not muted
    assert win_back[1:4] == ["sms_1", "sms", "150 / 120"]
    assert row["incremental_orders"] == pytest.approx(75 - 150 * 18 / 120)  # 52.5
    low, high = row["orders_ci_low"], row["orders_ci_high"]
    assert win_back[4] == f"+52.5 [+{low:.1f}; +{high:.1f}]"
    revenue = f"{money_text(row['incremental_revenue'])} [{money_text(row['revenue_ci_low'])}; "
    assert win_back[5] == revenue + f"{money_text(row['revenue_ci_high'])}]"
    assert win_back[6] == money_text(150 * SMS_COST) == "900\u00a0₽"
    assert money_text(row["net"]) in win_back[7]
    assert money_text(row["net_ci_low"]) in win_back[7]
    assert "class='up'" in win_back[7]
    assert row["revenue_ci_low"] > 150 * SMS_COST
    assert "окупается / earns its cost" in win_back[8]
    assert "class='verdict up'" in win_back[8]
    assert "the whole interval of its incremental revenue lies above what the messages cost" in win_back[8]

    # cross-sell's SMS: 12 held out, fewer than the minimum: no figure, the reason, the row grey
    assert STEP_HOLDOUT_ARMS[("cross_sell", "sms_1")]["holdout"][0] < MIN_ENTRANTS_PER_ARM
    assert report["cross_sell"]["reason"] == "too_few_entrants"
    assert cross_sell_muted
    assert cross_sell[:4] == ["Сопутствующие товары / Cross-sell", "sms_1", "sms", "40 / 12"]
    assert "слишком мало клиентов / too small to say" in cross_sell[4]
    assert f"an arm has fewer than {MIN_ENTRANTS_PER_ARM} customers" in cross_sell[4]  # the tooltip
    assert cross_sell[5] == cross_sell[7] == cross_sell[8] == "–"
    assert "[" not in "".join(cross_sell)  # no interval anywhere in the row
    assert not any(word in "".join(cross_sell) for word in ("earns", "costs more", "not yet clear"))

    # the birthday SMS: over 100 customers per arm but 16 buyers in all: the orders with their interval, no
    # revenue, net or verdict; not grey, since it has a figure
    row = report["birthday"]
    assert (row["reason"], row["revenue_reason"]) == (None, "too_few_buyers")
    assert not birthday_muted
    assert birthday[3] == "110 / 105"
    assert birthday[4] == (
        f"{row['incremental_orders']:+.1f} [{row['orders_ci_low']:+.1f}; {row['orders_ci_high']:+.1f}]"
    ).replace("-", "−")
    assert "слишком мало покупателей / too few buyers to say" in birthday[5]
    assert "fewer than 30 buyers expected in the smaller arm" in birthday[5]
    assert birthday[7] == birthday[8] == "–"
    assert birthday[6] == money_text(110 * SMS_COST)

    # the explanation under the table
    start = html.index(STEP_LIFT)
    section = html[start : html.index("<h2>", start + 10)]
    assert "purchases within 7 days of the decision, Welch 95 % interval" in section
    assert f"With fewer than {MIN_ENTRANTS_PER_ARM} customers in either arm no figure is given" in section
    assert "still coming in" not in section  # March ended long ago: its figures are final


def test_the_step_lift_says_when_the_last_purchases_are_still_coming_in(client, ui_warehouse):
    """A period that ends yesterday: the purchases after its last 7 days' decisions are not all in, and the
    section says so in both languages, with the last day a period with final figures may end on."""
    from datetime import UTC, datetime, time, timedelta

    import pandas as pd

    today = datetime.now(UTC).date()
    at = datetime.combine(today - timedelta(days=2), time(12))
    decisions = [
        {
            "run_key": "recent",
            "instance_id": f"win_back:{cid}",
            "step_id": "sms_1",
            "channel": "sms",
            "chain_id": "win_back",
            "customer_id": cid,
            "outcome": "suppressed",
            "reason": "step_holdout",
            "decided_at": at,
            "step_arm": "holdout",
        }
        for cid in range(90_001, 90_004)
    ]
    with ui_warehouse.begin() as conn:
        ui_warehouse.insert_df(conn, "crm.decisions", pd.DataFrame(decisions))
    period = f"start={today - timedelta(days=10)}&end={today - timedelta(days=1)}"
    try:
        html = client.get(f"/overview?{period}", headers=AUTH).text
    finally:
        with ui_warehouse.begin() as conn:
            conn.exec_driver_sql("DELETE FROM crm.decisions WHERE run_key = 'recent'")
    start = html.index(STEP_LIFT)
    section = html[start : html.index("<h2>", start + 10)]
    assert len(_section_rows(html, STEP_LIFT)) == 1
    final = (today - timedelta(days=8)).isoformat()
    warning = section[section.index("<p class='warning'>") :].split("</p>")[0]
    assert "Покупки после решений последних 7 дн. периода ещё поступают" in warning
    assert f"заканчивайте период не позже {final}." in warning
    assert "The purchases after the decisions of the last 7 days of the period are still coming in" in warning
    assert f"for final figures, end the period on {final} or earlier." in warning


def test_the_reports_note_gives_each_step_verdict(ui_warehouse):
    """The reports run note: a line per step with a verdict (in the marketer's words, with the net of cost
    and its interval) after the chains' figures; the steps without one by reason, last; a line that the step
    figures are not final while the period's last purchases are still coming in."""
    from datetime import date

    from lifecycle.reports.digest import NOTE_LIMIT, reports_digest
    from lifecycle.reports.read import overview
    from lifecycle.reports.stats import ArmStats, chain_effect
    from lifecycle.reports.uplift_verdict import money_text

    data = overview(ui_warehouse, date(2026, 3, 1), date(2026, 3, 31))
    # a chain with a figure besides March's two without: 900 treated entrants at 100 against 150 at 20
    gain = chain_effect(
        ArmStats(900, 90_000.0, 900 * 50_000.0, 450), ArmStats(150, 3_000.0, 150 * 40_400.0, 75), 500
    )
    data["chains"].append({"chain_id": "price_drop", "uplift": gain})
    figures = {"report_date": date(2026, 3, 31), "recomputed_from": date(2026, 3, 1)}
    row = next(r for r in data["step_lift"] if r["chain_id"] == "win_back")
    note = reports_digest(figures, data, today=date(2026, 4, 30))
    lines = note.splitlines()
    step = (
        f"* step win_back.sms_1: окупается / earns its cost, net of cost {money_text(row['net'])} "
        f"[{money_text(row['net_ci_low'])}; {money_text(row['net_ci_high'])}]"
    )
    assert step in lines
    assert "* no step verdict, слишком мало клиентов / too small to say: cross_sell.sms_1" in lines
    assert "* no step verdict, слишком мало покупателей / too few buyers to say: birthday.sms_1" in lines
    chain_lines = [i for i, line in enumerate(lines) if line.startswith("* ") and ": incremental" in line]
    no_figure = [i for i, line in enumerate(lines) if line.startswith(("* no figure", "* no step verdict"))]
    assert chain_lines == [lines.index(step) - 1]  # the chain's figure, then the step's
    assert len(no_figure) == 4  # March's two chains and two steps without a figure, last
    assert max(chain_lines) < lines.index(step) < min(no_figure)
    assert "not final" not in note  # a month after March, every purchase of its window is in
    assert len(note) <= NOTE_LIMIT

    # on 4 April the purchases after the decisions of 28-31 March are still coming in
    recent = reports_digest(figures, data, today=date(2026, 4, 4)).splitlines()
    caveat = "* steps not final (не окончательно): the last 4 days' purchases still coming in"
    assert recent[recent.index(step) - 1] == caveat


def test_the_reports_note_keeps_the_step_verdicts_first_within_its_limit(ui_warehouse):
    """Many steps with a verdict: the note stays within Airflow's limit, a clear verdict comes before "not yet
    clear", and what does not fit is counted in a '+N more' line (the lines without a figure go first)."""
    from datetime import date

    from lifecycle.reports.digest import NOTE_LIMIT, reports_digest
    from lifecycle.reports.read import overview

    data = overview(ui_warehouse, date(2026, 3, 1), date(2026, 3, 31))
    win_back = next(r for r in data["step_lift"] if r["chain_id"] == "win_back")
    unclear = [
        win_back | {"chain_id": "a_chain", "step_id": f"sms_{n}", "verdict": "unclear"} for n in range(20)
    ]
    data["step_lift"] = [*unclear, *data["step_lift"]]
    figures = {"report_date": date(2026, 3, 31), "recomputed_from": date(2026, 3, 1)}
    everything = reports_digest(figures, data, limit=100_000, today=date(2026, 4, 1)).splitlines()
    assert len("\n".join(everything)) > NOTE_LIMIT
    rows = [line for line in everything if line.startswith("* ")]
    assert len(rows) == 1 + 21 + 2 + 2  # the caveat, 21 steps, 2 chains and 2 steps without a figure

    note = reports_digest(figures, data, today=date(2026, 4, 1))
    assert len(note) <= NOTE_LIMIT
    lines = note.splitlines()
    (more,) = [line for line in lines if line.startswith("* … +")]
    shown = [line for line in lines if line.startswith("* ") and line != more]
    assert shown == rows[: len(shown)]  # the first rows, in order
    assert more == f"* … +{len(rows) - len(shown)} more"
    assert shown[0] == "* steps not final (не окончательно): the last 7 days' purchases still coming in"
    assert shown[1].startswith("* step win_back.sms_1: окупается / earns its cost")  # before "not yet clear"
    assert shown[2].startswith("* step a_chain.sms_0: пока неясно / not yet clear, net of cost ")
    assert not any(line.startswith(("* no figure", "* no step verdict")) for line in shown)
    assert lines[-1] == "CRM overview: Browse → CRM overview"


def test_the_step_lift_says_when_no_step_with_a_holdout_was_decided(client):
    html = client.get("/overview?start=2026-02-01&end=2026-02-28", headers=AUTH).text
    start = html.index(STEP_LIFT)
    section = html[start : html.index("<h2>", start + 10)]
    assert "No step with its own holdout was decided in this period." in section
    assert "<table>" not in section
