"""The pages in a real browser: `airflow standalone` on a free port with a temporary AIRFLOW_HOME, headless
Chromium logged in as admin, the pages opened through the Airflow UI. Two warehouses are served in turn (the
plugin reads the `lifecycle_warehouse` connection, kept in Airflow's metadata database here, on every page
view): a small hand-built one with known figures, and the demo shop after a real chains run. The chain files
and SQL files the pages read are copies (LIFECYCLE_CHAINS_DIR, LIFECYCLE_SQL_DIR) that the analyst's test
edits. Screenshots go to test-artifacts/ (git-ignored).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from demo_run import DEMO_RUN, END, build_demo_run
from ui_rows import RUN, build_ui_warehouse

pytestmark = pytest.mark.airflow
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts"
FRAME = "document.querySelector('iframe').contentDocument"
IFRAME_TEXT = (
    "(() => { const f = document.querySelector('iframe');"
    " return f && f.contentDocument && f.contentDocument.body ? f.contentDocument.body.innerText : ''; })()"
)
BODY_TEXT = "document.body ? document.body.innerText : ''"
WAREHOUSE_CONN = "lifecycle_warehouse"


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


def _demo_figures(url: str) -> dict:
    """What the demo run's records say, read before the server starts: the expected page figures."""
    from lifecycle.chains.config import CHAINS_DIR, load_chain
    from lifecycle.chains.preview import preview_chain
    from lifecycle.reports.read import chains_run
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(url)
    try:
        summary = chains_run(warehouse, DEMO_RUN)
        preview = preview_chain(warehouse, load_chain(CHAINS_DIR / "abandoned_cart.yaml", False), END)
    finally:
        warehouse.engine.dispose()
    held: dict[str, int] = {}
    for step in summary["funnel"]:
        for code, n in step["held"].items():
            held[code] = held.get(code, 0) + n
    exits: dict[str, int] = {}
    for chain in summary["chains"]:
        for code, n in chain["exits"].items():
            exits[code] = exits.get(code, 0) + n
    return {
        "entered": sum(int(c["entered"] or 0) for c in summary["chains"]),
        "sent": sum(s["sent"] for s in summary["funnel"]),
        "held": held,
        "exits": exits,
        "preview": preview,
    }


@pytest.fixture(scope="module")
def airflow_ui(tmp_path_factory):
    """airflow standalone serving this project's DAGs and plugin over the two warehouses."""
    import httpx

    sys.path.insert(0, str(ROOT / "scripts"))
    from local_env import UI_LOGIN, airflow_env, write_login

    home = tmp_path_factory.mktemp("airflow-ui")
    warehouses = {"hand-built": home / "warehouse.duckdb", "demo": home / "demo.duckdb"}
    chains_dir = Path(shutil.copytree(ROOT / "include" / "chains", home / "chains"))
    sql_dir = Path(shutil.copytree(ROOT / "include" / "sql", home / "sql"))
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
        "LIFECYCLE_CHAINS_DIR": str(chains_dir),
        "LIFECYCLE_SQL_DIR": str(sql_dir),
        # standalone starts its components as `airflow …` from PATH: the virtualenv's.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    env.pop("AIRFLOW_CONN_LIFECYCLE_WAREHOUSE", None)  # in the metadata database, so tests can switch it
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
        # built while Airflow starts: the plugin reads a warehouse only once a test points it there
        build_ui_warehouse(warehouses["hand-built"]).engine.dispose()
        demo_url, _ = build_demo_run(warehouses["demo"], home / "outbox")
        figures = _demo_figures(demo_url)
        client = httpx.Client(base_url=base, timeout=10)
        _wait(lambda: client.get("/api/v2/monitor/health").status_code == 200, 180, "api-server")
        token = client.post("/auth/token", json={"username": UI_LOGIN[0], "password": UI_LOGIN[1]}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        created = client.post(
            "/api/v2/connections",
            headers=headers,
            json={
                "connection_id": WAREHOUSE_CONN,
                "conn_type": "duckdb",
                "host": str(warehouses["hand-built"]),
            },
        )
        assert created.status_code == 201, created.text
        dag_url = "/api/v2/dags/lifecycle_chains"
        _wait(lambda: client.get(dag_url, headers=headers).status_code == 200, 120, "DAGs")
        for run_id in (RUN, DEMO_RUN):
            created = client.post(
                "/api/v2/dags/lifecycle_chains/dagRuns",
                headers=headers,
                json={"dag_run_id": run_id, "logical_date": None},
            )
            assert created.status_code in (200, 201), created.text

        def use_warehouse(name: str) -> None:
            """Point the plugin at one of the warehouses (read again on the next page view)."""
            changed = client.patch(
                f"/api/v2/connections/{WAREHOUSE_CONN}",
                headers=headers,
                json={"connection_id": WAREHOUSE_CONN, "conn_type": "duckdb", "host": str(warehouses[name])},
            )
            assert changed.status_code == 200, changed.text

        yield {
            "base": base,
            "token": token["access_token"],
            "log": home / "standalone.log",
            "use_warehouse": use_warehouse,
            "demo": figures,
            "sql_dir": sql_dir,
        }
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

    for path in ("overview", "chains/abandoned_cart/preview"):
        response = httpx.get(f"{airflow_ui['base']}/lifecycle/{path}", timeout=10)
        assert response.status_code == 401


def test_run_summary_tab_and_crm_page_in_the_browser(airflow_ui, browser):
    from urllib.parse import quote

    base = airflow_ui["base"]
    airflow_ui["use_warehouse"]("hand-built")
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
    airflow_ui["use_warehouse"]("hand-built")
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
    # no incremental revenue figure where it cannot mean anything, the reason instead
    assert "ничего не отправлено / nothing sent" in text  # the cart chain: no send reached an entrant
    assert "нет вошедших / no entrants" in text  # welcome: sent, but no one entered in the period
    assert "Preview audience" in text
    browser.screenshot(ARTIFACTS / "crm-overview-nav.png")

    # The page itself, full length, for the record.
    browser.open(f"{base}/lifecycle/overview?start=2026-03-01&end=2026-03-31")
    text = browser.wait_for_text(BODY_TEXT, ["Карта коммуникаций", "P(best)", "Send-time lift"])
    browser.screenshot(ARTIFACTS / "crm-overview-full.png", full_page=True)
    # the send-time lift: win-back's difference with its interval, cross-sell too small to say, greyed out
    lift = text[text.index("Лучший час отправки / Send-time lift") :]
    assert "в лучший час / at the best hour" in lift
    assert "+20.0\u00a0pp [" in lift.replace(" pp", "\u00a0pp")
    assert "слишком мало отправок, чтобы судить / too few sends to say" in lift
    assert "свои отклики / own responses" in lift
    grey = browser.evaluate(
        "(() => { const cells = [...document.querySelectorAll('tr.muted td')];"
        " const cell = cells.find(td => td.innerText.includes('too few sends to say'));"
        " return cell ? getComputedStyle(cell).color : ''; })()"
    )
    assert grey == "rgb(135, 149, 164)"  # the muted grey of too-small figures


#: The rows of the step-lift section as the browser shows them: each row's cells, whether it is greyed out,
#: and the colour of its cells' text.
STEP_LIFT_ROWS = """(() => {
  const h2 = [...document.querySelectorAll('h2')].find(h => h.innerText.includes('Step lift'));
  if (!h2) return null;
  let table = h2.nextElementSibling;
  while (table && table.tagName !== 'TABLE' && table.tagName !== 'H2') table = table.nextElementSibling;
  if (!table || table.tagName !== 'TABLE') return [];
  return [...table.querySelectorAll('tbody tr')].map(tr => ({
    muted: tr.classList.contains('muted'),
    cells: [...tr.querySelectorAll('td')].map(td => td.innerText),
    colours: [...tr.querySelectorAll('td')].map(td => getComputedStyle(td).color),
    verdict: (() => { const s = tr.querySelector('td:last-child span');
      return s ? {colour: getComputedStyle(s).color, title: s.title} : null; })(),
    reason: (() => { const s = tr.querySelector('td:nth-child(5) span');
      return s ? s.title : ''; })(),
  }));
})()"""


def test_crm_overview_shows_what_a_step_earns_against_its_cost(airflow_ui, browser):
    """The marketer asks whether the win-back SMS earned its cost: the CRM overview answers per step with its
    own holdout, the incremental orders and revenue with their intervals next to the cost, the verdict in
    green; cross-sell's SMS, with too few customers held out, is grey with the reason and no figure."""
    import re

    base = airflow_ui["base"]
    airflow_ui["use_warehouse"]("hand-built")
    browser.set_cookie("_token", airflow_ui["token"], base)
    browser.open(f"{base}/lifecycle/overview?start=2026-03-01&end=2026-03-31")
    text = browser.wait_for_text(BODY_TEXT, ["Step lift: does the step earn its cost?", "Карта коммуникаций"])
    section = text[text.index("Step lift: does the step earn its cost?") :]
    assert "Earns its cost' when the whole revenue interval lies above the cost" in section
    rows = {row["cells"][0]: row for row in browser.evaluate(STEP_LIFT_ROWS)}
    assert set(rows) == {
        "Реактивация / Win-back",
        "Сопутствующие товары / Cross-sell",
        "День рождения / Birthday",  # enough customers, too few buyers: see test_pages
    }

    win_back = rows["Реактивация / Win-back"]
    assert not win_back["muted"]
    assert win_back["cells"][1:4] == ["sms_1", "sms", "150 / 120"]
    assert re.fullmatch(r"\+52\.5 \[\+\d+\.\d; \+\d+\.\d\]", win_back["cells"][4])
    assert re.fullmatch(
        r"[\d\u202f]+\u00a0₽ \[[\d\u202f]+\u00a0₽; [\d\u202f]+\u00a0₽\]", win_back["cells"][5]
    )
    assert win_back["cells"][6] == "900\u00a0₽"
    assert win_back["cells"][8] == "окупается / earns its cost"
    assert win_back["verdict"]["colour"] == "rgb(45, 125, 70)"  # the green of a significant gain
    assert "lies above what the messages cost" in win_back["verdict"]["title"]  # the tooltip

    cross_sell = rows["Сопутствующие товары / Cross-sell"]
    assert cross_sell["muted"]
    assert cross_sell["cells"][1:4] == ["sms_1", "sms", "40 / 12"]
    assert cross_sell["cells"][4] == "слишком мало клиентов / too small to say"
    assert "an arm has fewer than 100 customers" in cross_sell["reason"]
    assert [cross_sell["cells"][i] for i in (5, 7, 8)] == ["–", "–", "–"]
    assert not re.search(r"\d\.\d|\[", " ".join(cross_sell["cells"][4:]))  # no effect, no interval
    assert set(cross_sell["colours"]) == {"rgb(135, 149, 164)"}  # the muted grey of too-small figures
    browser.screenshot(ARTIFACTS / "crm-overview-step-lift.png", full_page=True)


def test_demo_run_summary_shows_entered_sent_and_held_with_plain_reasons(airflow_ui, browser):
    """The marketer after a demo: the Run summary tab of a real chains run of the demo shop says how many
    entered, were sent and were held back, and why, in words; every figure is the run's own record."""
    from urllib.parse import quote

    from lifecycle.reports.labels import reason_text

    demo = airflow_ui["demo"]
    # the run has something of each to show
    assert demo["entered"] > 0
    assert demo["sent"] > 0
    assert demo["held"]
    base = airflow_ui["base"]
    airflow_ui["use_warehouse"]("demo")
    browser.set_cookie("_token", airflow_ui["token"], base)
    browser.open(f"{base}/dags/lifecycle_chains/runs/{quote(DEMO_RUN, safe='')}/plugin/run-summary")
    text = browser.wait_for_text(IFRAME_TEXT, ["Chains: entered, exited, decided", "Легенда / Legend"])
    assert f"Entered (вошли) {demo['entered']}" in text
    assert f"Sent (отправлено) {demo['sent']}" in text
    assert f"Held back (отложено) {sum(demo['held'].values())}" in text
    for code, n in demo["held"].items():
        assert f"{reason_text(code)}: " in text
        assert f"{code}: {n}" not in text  # no raw codes
        assert f"{code} {n}" not in text
    for code in demo["exits"]:
        assert f"{reason_text(code)}: " in text
    legend = text[text.index("Легенда / Legend") :]
    for code in demo["held"]:
        assert f"{reason_text(code)} ({code})" in legend
    assert "Отправки по каналам и провайдерам / Sends by channel and provider" in text
    assert "sandbox" in text
    browser.screenshot(ARTIFACTS / "run-summary-demo.png", full_page=True)


def _click_preview(browser, chain_id: str, at: str | None = None) -> None:
    """In the page inside Airflow's iframe: set the chain's time (when given) and press Preview audience."""
    chain = json.dumps(chain_id)
    set_time = f"d.querySelector(`input[data-chain=${{{chain}}}]`).value = {json.dumps(at)};" if at else ""
    browser.evaluate(
        f"(() => {{ const d = {FRAME}; {set_time}"
        f" d.querySelector(`button[data-chain=${{{chain}}}]`).click(); }})()"
    )


def _entering(browser, expected: int, timeout: float = 40.0) -> int:
    """The preview's "would enter" figure once it shows ``expected`` (the page has reloaded)."""
    script = f"(() => {{ const e = {FRAME}.getElementById('entering'); return e ? e.textContent : ''; }})()"
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        seen = browser.evaluate(script)
        if seen == str(expected):
            return expected
        time.sleep(0.5)
    raise AssertionError(f"the preview shows {seen!r} entering, expected {expected}")


def test_analyst_edits_the_entry_query_and_previews_the_audience(airflow_ui, browser):
    """The analyst's loop in the Airflow UI, on copies of the chains and SQL the api-server reads: preview a
    chain's audience from the CRM page, narrow its entry query in the file, preview again and see the count
    change (no restart), break the query and see the file and line named on the page."""
    base = airflow_ui["base"]
    expected = airflow_ui["demo"]["preview"]
    assert expected.entering > 0
    query = airflow_ui["sql_dir"] / "chains" / "abandoned_cart.sql"
    good = query.read_text(encoding="utf-8")
    airflow_ui["use_warehouse"]("demo")
    browser.set_cookie("_token", airflow_ui["token"], base)
    try:
        browser.open(f"{base}/plugin/crm-overview")
        browser.wait_for_text(IFRAME_TEXT, ["Chains and their audience", "Preview audience"])
        _click_preview(browser, "abandoned_cart", f"{END:%Y-%m-%dT%H:%M}")
        text = browser.wait_for_text(IFRAME_TEXT, ["Audience preview — Брошенная корзина", "Would enter"])
        assert _entering(browser, expected.entering) == expected.entering  # what the command line says
        assert f"at {END:%Y-%m-%d %H:%M} UTC" in text
        for row in expected.sample:
            assert str(row["trigger_key"]) in text
        browser.screenshot(ARTIFACTS / "audience-preview.png", full_page=True)

        # narrow the audience: leave out the first customer of the sample
        left_out = expected.sample[0]["customer_id"]
        narrowed = expected.entering - sum(r["customer_id"] == left_out for r in expected.sample)
        assert expected.entering <= len(expected.sample)  # all entrants are listed, so the count is known
        query.write_text(
            good.replace("FROM items\nGROUP BY", f"FROM items\nWHERE customer_id <> {left_out}\nGROUP BY", 1)
        )
        _click_preview(browser, "abandoned_cart")
        assert _entering(browser, narrowed) == narrowed

        # a typo: the page names the file and the line instead of failing
        query.write_text(good.replace("WITH purchases AS (\n    SELECT", "WITH purchases AS (\n    SELEC", 1))
        line = good.splitlines().index("    SELECT") + 1
        _click_preview(browser, "abandoned_cart")
        text = browser.wait_for_text(IFRAME_TEXT, ["The chain cannot be previewed"])
        assert f"{query}, line {line}: " in text
        assert 'syntax error at or near "SELEC"' in text
        assert "Internal Server Error" not in text
        browser.screenshot(ARTIFACTS / "audience-preview-broken-sql.png", full_page=True)
    finally:
        query.write_text(good)
