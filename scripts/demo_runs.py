"""One run of each given DAG through Airflow's LocalExecutor, as `airflow dags test --use-executor` does, but
in one process for all of them: `python scripts/demo_runs.py LOG_FILE LOGICAL_DATE DAG_ID[:CONF_JSON] ...`.

`make demo` calls it with the environment of scripts/local_env.py and an execution API server. Every task
runs in its own process with its log file (which the UI of `make airflow` shows), forked from this one:
importing the pipeline's libraries here first spares each task a second of imports, and one process spares
each DAG the start-up of the Airflow CLI. Airflow's own output goes to LOG_FILE; prints one line per DAG;
exits 1 at the first DAG run that fails, after printing the failed tasks and the end of their logs.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

#: The libraries every task imports, loaded before the executor forks its worker.
PRELOAD = (
    "duckdb",
    "pandas",
    "sqlalchemy",
    "lifecycle.chains.engine",
    "lifecycle.delivery.dispatch",
    "lifecycle.ingest",
    "lifecycle.policy.stage",
    "lifecycle.reports.build",
    "lifecycle.scores.scoring",
    "lifecycle.scores.training",
)


def preload() -> None:
    for module in PRELOAD:
        importlib.import_module(module)


def failed_tasks(dag_run) -> list[str]:
    from airflow.utils.state import TaskInstanceState

    return [
        f"{ti.task_id}{f'[{ti.map_index}]' if ti.map_index >= 0 else ''}: {ti.state}"
        for ti in dag_run.get_task_instances()
        if ti.state not in (TaskInstanceState.SUCCESS, TaskInstanceState.SKIPPED)
    ]


def log_tails(dag_id: str, run_id: str, limit: int = 3000) -> str:
    """The end of each task log of the run (the LocalExecutor writes them under AIRFLOW_HOME/logs)."""
    from airflow.configuration import conf

    folder = Path(conf.get("logging", "base_log_folder")) / f"dag_id={dag_id}" / f"run_id={run_id}"
    tails = []
    for path in sorted(folder.rglob("*.log")):
        text = path.read_text(errors="replace")
        if '"level":"error"' in text or "ERROR" in text:
            tails.append(f"--- {path}\n{text[-limit:]}")
    return "\n".join(tails)


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    log_file, logical_date = Path(argv[0]), datetime.fromisoformat(argv[1])
    # This script's lines go to the terminal, the runs' console logging to the file.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        os.dup2(log.fileno(), sys.stdout.fileno())
        os.dup2(log.fileno(), sys.stderr.fileno())
    preload()
    from airflow.utils.cli import get_bagged_dag
    from airflow.utils.state import DagRunState

    for spec in argv[2:]:
        dag_id, _, conf = spec.partition(":")
        started = time.monotonic()
        dag = get_bagged_dag(None, dag_id)
        dag_run = dag.test(logical_date=logical_date, run_conf=json.loads(conf or "{}"), use_executor=True)
        ok = dag_run is not None and dag_run.state == DagRunState.SUCCESS
        print(
            f"  {dag_id:<24} {'success' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s", file=out
        )
        if not ok:
            print("  tasks not successful: " + ", ".join(failed_tasks(dag_run)), file=out)
            print(log_tails(dag_id, dag_run.run_id), file=out)
            print(f"  Airflow's output: {log_file}", file=out)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
