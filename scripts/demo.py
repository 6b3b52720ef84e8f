"""`make demo`: build a demo shop in an embedded DuckDB warehouse, run the pipeline hour by hour for two
simulated weeks against customers who react to the messages (lifecycle.simulate), run the pipeline's DAGs
once through Airflow (`airflow dags test`) so the UI has runs to show, and print what happened, where to look,
and per chain the true incremental revenue next to the measured one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from local_env import (
    DEMO_CHAINS_DIR,
    OUTBOX_DIR,
    PROJECT_DIR,
    UI_LOGIN,
    UI_URL,
    WAREHOUSE_FILE,
    airflow_env,
    warehouse_url,
    write_demo_chains,
    write_login,
)

CUSTOMERS = 3000
SEED = int(os.environ.get("DEMO_SEED") or 42)
#: Simulated days of hourly operation before the Airflow runs (docs/simulation.md).
SIM_DAYS = int(os.environ.get("DEMO_DAYS") or 14)
#: Two years of history, so the churn model and the LTV model both have a later window to be validated on.
DAYS = 730
BAD_SHARE = 0.01
#: Every chain's holdout share in the demo (data/demo-chains); `DEMO_HOLDOUT_SHARE=files` keeps the chain
#: files' 5-15 %, with which two weeks of 3,000 customers leave every chain "too few entrants" to measure.
HOLDOUT_SHARE = os.environ.get("DEMO_HOLDOUT_SHARE") or "0.5"
#: DAGs in pipeline order; each runs only if its file exists (later capabilities add theirs).
PIPELINE = (
    "lifecycle_ingest",
    "lifecycle_train_churn",
    "lifecycle_scores",
    "lifecycle_chains",
    "lifecycle_dispatch",
    "lifecycle_reports",
)


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def demo_chains() -> Path | None:
    """The demo's map with HOLDOUT_SHARE held out of every chain, or None for the chain files' shares."""
    shutil.rmtree(DEMO_CHAINS_DIR, ignore_errors=True)
    if HOLDOUT_SHARE == "files":
        return None
    try:
        share = float(HOLDOUT_SHARE)
    except ValueError:
        share = -1.0
    if not 0 <= share < 1:
        sys.exit(f"DEMO_HOLDOUT_SHARE={HOLDOUT_SHARE!r}: give a share in [0, 1), e.g. 0.5, or 'files'")
    return write_demo_chains(share)


def simulate(url: str, end: datetime, chains: Path | None):
    """The demo shop and SIM_DAYS of hourly pipeline runs ending at ``end``; returns the result."""
    from lifecycle.simulate import Simulation, SimulationConfig

    WAREHOUSE_FILE.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (WAREHOUSE_FILE, WAREHOUSE_FILE.with_suffix(".duckdb.wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(OUTBOX_DIR, ignore_errors=True)
    config = SimulationConfig(
        days=SIM_DAYS,
        customers=CUSTOMERS,
        seed=SEED,
        end=end,
        history_days=DAYS - SIM_DAYS,
        outbox=OUTBOX_DIR,
        bad_share=BAD_SHARE,
        chains_folder=chains,
    )
    simulation = Simulation(url, config, progress=lambda message: print(f"  {message}", flush=True))
    built = simulation.build()
    print(f"  {json.dumps(built['manifest_rows'], ensure_ascii=False)}")
    print(f"  scenario of the weeks: {json.dumps(simulation.scenario)}", flush=True)
    result = simulation.run()
    simulation.warehouse.engine.dispose()
    summary = result.summary()
    print(
        f"  {summary['hours']} hours in {summary['seconds']:.0f} s ({summary['seconds_per_hour']:.2f} s per "
        f"simulated hour); by stage: {summary['seconds_by_stage']}"
    )
    return result


def report_truth(url: str, start: datetime, end: datetime) -> None:
    from lifecycle.simulate.compare import comparison, entry_days, format_table
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(url)
    print(format_table(comparison(warehouse, *entry_days(warehouse, start, end))))


class AirflowPrep:
    """Airflow's metadata database migrated, then an execution API server started for the runs' tasks, in the
    background while the simulation runs (neither touches the warehouse). Tasks run by the LocalExecutor, one
    at a time (one writer on the DuckDB file); each task writes its log file, which the UI of `make airflow`
    shows."""

    def __init__(self, env: dict):
        import secrets
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = env | {
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__PARALLELISM": "1",
            # A task's supervisor notices its end within a second, not the default five.
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
        }
        self.server: subprocess.Popen | None = None
        self.failure: str | None = None
        self.thread = threading.Thread(target=self._prepare, name="airflow-prep", daemon=True)

    def start(self) -> AirflowPrep:
        self.thread.start()
        return self

    def _prepare(self) -> None:
        migrated = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=self.env, capture_output=True, text=True
        )
        if migrated.returncode != 0:
            self.failure = f"airflow db migrate failed:\n{(migrated.stdout + migrated.stderr)[-4000:]}"
            return
        serve = ["api-server", "--apps", "execution", "-H", "127.0.0.1", "-p", str(self.port)]
        self.server = subprocess.Popen(
            [sys.executable, "-m", "airflow", *serve],
            env=self.env | {"AIRFLOW__API__WORKERS": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def ready(self) -> dict:
        """The environment of the runs, once the database is migrated and the server answers."""
        import httpx

        self.thread.join()
        if self.failure:
            sys.exit(self.failure)
        health = f"http://127.0.0.1:{self.port}/execution/health"
        for _ in range(240):
            with suppress(httpx.HTTPError):
                if httpx.get(health, timeout=2).status_code == 200:
                    return self.env
            if self.server.poll() is not None:
                break
            time.sleep(0.5)
        sys.exit(f"the execution API server did not answer at {health}")

    def stop(self) -> None:
        self.thread.join()
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=30)


def run_dags(logical_date: datetime, env: dict) -> None:
    """One run of each DAG of the pipeline (scripts/demo_runs.py), at the simulation's last hour."""
    specs = []
    for dag_id in PIPELINE:
        if (PROJECT_DIR / "dags" / f"{dag_id}.py").exists():
            # The reports cover the demo's own day (a scheduled run reports the previous day).
            conf = {"report_date": logical_date.date().isoformat()} if dag_id == "lifecycle_reports" else {}
            specs.append(f"{dag_id}:{json.dumps(conf)}")
    log = Path(env["AIRFLOW_HOME"]) / "demo-runs.log"
    runs = [sys.executable, str(PROJECT_DIR / "scripts" / "demo_runs.py"), str(log), logical_date.isoformat()]
    runs += specs
    if subprocess.run(runs, env=env).returncode != 0:
        sys.exit(1)


def report_ingest(url: str) -> None:
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(url)
    print(warehouse.fetch_df("reports/latest_ingest_run.sql").to_string(index=False))
    quarantine = warehouse.fetch_df("ingest/quarantine_summary.sql", since=datetime(1900, 1, 1))
    print("\nQuarantined rows by reason (crm.quarantine):")
    print(quarantine.to_string(index=False) if not quarantine.empty else "  none")
    overview = warehouse.fetch_df("reports/customer_state_overview.sql")
    print("\nCustomer state (crm.customer_state):")
    print(overview.to_string(index=False))


def report_scores(url: str) -> None:
    from lifecycle.scores.report import describe
    from lifecycle.warehouse import Warehouse

    print(describe(Warehouse(url)))


def report_chains(url: str) -> None:
    """Per chain: entered, exited (by reason) and due; then the policy's funnel from due to planned."""
    from lifecycle.chains.engine import run_summary
    from lifecycle.warehouse import Warehouse

    warehouse = Warehouse(url)
    latest = warehouse.fetch_all("reports/latest_chains_run.sql")
    if not latest:
        return
    run_key = latest[0]["run_key"]
    summary = pd.DataFrame(run_summary(warehouse, run_key))
    totals = summary[summary["exit_reason"].isna()].drop(columns="exit_reason").convert_dtypes()
    print(totals.to_string(index=False))
    exits = summary[summary["exit_reason"].notna()][["chain_id", "exit_reason", "exited"]]
    print("\nExits by reason:")
    print(exits.to_string(index=False) if not exits.empty else "  none")
    funnel = warehouse.fetch_df("policy/funnel.sql", run_key=run_key)
    if funnel.empty:
        return
    funnel["column"] = funnel["outcome"] + funnel["reason"].map(lambda r: f": {r}" if r else "")
    table = funnel.pivot_table(
        index="chain_id", columns="column", values="steps", aggfunc="sum", fill_value=0
    )
    table.insert(0, "due", table.sum(axis=1))
    print("\nContact policy, due steps by outcome and reason (crm.decisions):")
    print(table.to_string())
    from lifecycle.policy.audit import audit_ledger

    print("\nLedger audit in each customer's time zone:", audit_ledger(warehouse).summary())


def main() -> None:
    from lifecycle.simulate import default_end

    chains = demo_chains()
    env = airflow_env()  # after the demo's map is written: its runs read the same chains
    url = warehouse_url(env)
    # The simulated weeks end at 14:00 Moscow time (the latest one before now): a daytime hour, when the
    # contact policy's quiet hours hold nothing in most of the country.
    end = default_end(datetime.now(UTC))
    started = time.monotonic()

    step(
        f"Building the demo shop ({CUSTOMERS} customers, seed {SEED}) and simulating {SIM_DAYS} days of "
        f"hourly operation up to {end:%Y-%m-%d %H:%M} UTC"
    )
    # Airflow's metadata database (under data/airflow) is prepared while the simulation runs.
    shutil.rmtree(env["AIRFLOW_HOME"], ignore_errors=True)
    write_login(env)
    airflow = AirflowPrep(env).start()
    result = simulate(url, end, chains)

    step("Running the DAGs through Airflow (as `airflow dags test --use-executor`)")
    run_env = airflow.ready()
    try:
        run_dags(end.replace(tzinfo=UTC), run_env)
    finally:
        airflow.stop()

    step("What the ingest did")
    report_ingest(url)
    step("Customer scores: models and RFM segments")
    report_scores(url)
    step("Trigger chains and the contact policy (latest chains run)")
    report_chains(url)

    step(f"Done in {time.monotonic() - started:.0f} s. Where to look")
    print(f"  Warehouse (DuckDB): {WAREHOUSE_FILE}  - schemas shop (source) and crm (pipeline)")
    emails = sorted((OUTBOX_DIR / "email").glob("*.html"))
    pushes = sorted((OUTBOX_DIR / "push").glob("*.json"))
    texts = sorted((OUTBOX_DIR / "sms").glob("*.json"))
    print(
        f"  Sent through the sandbox: {len(emails)} emails, {len(pushes)} pushes, {len(texts)} SMS in "
        f"{OUTBOX_DIR}"
    )
    if emails:
        print(f"  Open an email in a browser: file://{emails[0]}")
    print(f"  Airflow UI: `make airflow`, then {UI_URL}  (login {UI_LOGIN[0]} / {UI_LOGIN[1]})")
    print("  Runs of this demo are listed under each DAG; task logs hold the figures above.")
    print(
        "  The simulated weeks: docs/simulation.md; ground truth in schema sim (never read by the pipeline)."
    )
    if chains is not None:
        print(
            f"  Chains: {chains}, include/chains with {float(HOLDOUT_SHARE):.0%} of every chain's entrants "
            "held out to measure in two weeks (DEMO_HOLDOUT_SHARE=files keeps the files' 5-15 %)"
        )

    step(
        f"True against measured incremental revenue per chain, entries {result.start:%Y-%m-%d} to "
        f"{result.end:%Y-%m-%d} (roubles; truth: sim.truth_chain, measured: the report tables)"
    )
    report_truth(url, result.start, result.end)


if __name__ == "__main__":
    main()
