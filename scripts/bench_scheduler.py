"""`python scripts/bench_scheduler.py`: the hourly chains DAG as a real scheduler runs it, against the same
work done in one process, so the share of the run that goes to Airflow's per-task overhead is a figure.

It starts the distributed stack of scripts/celery_stack.py (API server, scheduler, DAG processor and a Celery
worker as processes; PostgreSQL metadata and warehouse; Redis broker), builds the demo shop, runs the
pipeline once (ingest, training, scores, chains, dispatch, reports), then alternates for ``--hours`` hours:

* an odd hour: the ``lifecycle_chains`` DAG triggered through the REST API for that hour; measured are the
  run's wall time (its start to its end, as the API reports them), its task instances and the sum of their
  durations;
* an even hour: the same work in one process, ``python -m lifecycle chains run --at <hour>`` (every chain and
  the contact policy), timed from the outside; it includes the interpreter's start and imports once.

Neighbouring hours of the same shop have comparable work (no new events arrive between them), so the
difference of the medians is what the DAG's shape costs. The table goes to stdout, the figures as JSON to
``--json`` (default data/bench_scheduler.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

from celery_stack import ROOT, CeleryStack, StackError, run_pipeline  # noqa: E402

DAG_ID = "lifecycle_chains"


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def scheduled_hour(stack: CeleryStack, hour: datetime) -> dict:
    """One chains run through the scheduler and the Celery worker; its wall time and task figures."""
    run = stack.trigger_and_wait(DAG_ID, hour, timeout=900)
    record = stack.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run.run_id}")
    started, ended = _moment(record.get("start_date")), _moment(record.get("end_date"))
    durations = [float(ti.get("duration") or 0.0) for ti in run.task_instances]
    # The chains' own work: the run_chains task (one for all chains).
    chain_tis = [
        float(ti.get("duration") or 0.0) for ti in run.task_instances if ti["task_id"] == "run_chains"
    ]
    return {
        "hour": hour.isoformat(),
        "wall_s": (ended - started).total_seconds() if started and ended else run.seconds,
        "task_instances": len(run.task_instances),
        "task_seconds": sum(durations),
        "median_task_s": statistics.median(durations) if durations else 0.0,
        "median_chain_task_s": statistics.median(chain_tis) if chain_tis else None,
    }


def in_process_hour(stack: CeleryStack, hour: datetime) -> dict:
    """The same hour's chains and contact policy in one process (the command line), timed from outside."""
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable, "-m", "lifecycle", "chains", "run", "--warehouse", stack.warehouse_url,
            "--at", hour.strftime("%Y-%m-%dT%H:%M"), "--run-key", f"bench-in-process-{hour:%Y%m%dT%H}",
        ],
        env=stack.env(),
        check=True,
        capture_output=True,
        timeout=900,
    )  # fmt: skip
    return {"hour": hour.isoformat(), "wall_s": time.monotonic() - started}


def table(scheduled: list[dict], in_process: list[dict], header: str) -> str:
    def med(rows, key):
        return statistics.median(r[key] for r in rows)

    wall, alone = med(scheduled, "wall_s"), med(in_process, "wall_s")
    lines = [
        header,
        f"{'':44}{'median':>10}{'runs':>6}",
        f"{'chains DAG run under the scheduler, wall s':44}{wall:10.1f}{len(scheduled):6d}",
        f"{'  task instances per run':44}{med(scheduled, 'task_instances'):10.0f}",
        f"{'  sum of task durations, s':44}{med(scheduled, 'task_seconds'):10.1f}",
        f"{'  one task, median s':44}{med(scheduled, 'median_task_s'):10.2f}",
        f"{'same work in one process, wall s':44}{alone:10.1f}{len(in_process):6d}",
        f"{'share of the DAG run that is overhead':44}{max(0.0, 1 - alone / wall):10.0%}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--hours", type=int, default=6, help="hours after the pipeline's (half of them each way)"
    )
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--workdir", type=Path, default=ROOT / "data" / "celery")
    parser.add_argument("--json", type=Path, default=ROOT / "data" / "bench_scheduler.json")
    args = parser.parse_args()

    end = (datetime.now(UTC) - timedelta(days=1)).replace(hour=11, minute=0, second=0, microsecond=0)
    stack = CeleryStack(
        workdir=args.workdir / uuid.uuid4().hex[:8], pg_admin_url=args.pg_url, redis_url=args.redis_url
    )
    scheduled, in_process = [], []
    try:
        print(f"Starting the stack in {stack.workdir}", flush=True)
        stack.start(customers=args.customers, seed=args.seed, end=end.replace(tzinfo=None))
        run_pipeline(stack, end)
        for offset in range(1, args.hours + 1):
            hour = end + timedelta(hours=offset)
            if offset % 2:
                scheduled.append(scheduled_hour(stack, hour))
                print(f"  {hour:%H:%M} scheduler:  {json.dumps(scheduled[-1])}", flush=True)
            else:
                in_process.append(in_process_hour(stack, hour))
                print(f"  {hour:%H:%M} one process: {json.dumps(in_process[-1])}", flush=True)
    except StackError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    finally:
        for problem in stack.stop():
            print(f"clean-up: {problem}", file=sys.stderr)
    with open("/proc/loadavg", encoding="ascii") as handle:
        load = handle.read().split()[:3]
    header = (
        f"Chains DAG under a real scheduler (CeleryExecutor, worker concurrency 4), {args.customers} "
        f"customers, PostgreSQL warehouse; load average {' '.join(load)}"
    )
    print(table(scheduled, in_process, header))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    figures = {"scheduled": scheduled, "in_process": in_process, "load": load}
    args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
