"""`make bench`: speed of the pipeline's stages at scale, on DuckDB.

For each size it builds a fresh two-year shop in data/bench/, then times:
* the generator;
* the initial ingest (the whole history but its last hour) and the hourly ingest of the last hour on top of
  that history (the figure that must follow the hour's new rows, not the history);
* churn and LTV training, and the daily scoring of every customer (RFM + churn + LTV);
* one hourly chains run (all chains: entries, exits, due steps) and the contact policy over its due steps.
Sizes: BENCH_CUSTOMERS (comma-separated, default 100000). Results are printed and written to
data/bench/results.json, with the peak resident memory of the process.
"""

import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta

from local_env import DATA_DIR

END = datetime(2026, 11, 23, 12, 0)
HOUR = timedelta(hours=1)


def timed(results: dict, name: str, action):
    started = time.perf_counter()
    value = action()
    results[f"{name}_s"] = round(time.perf_counter() - started, 2)
    return value


def bench_size(customers: int) -> dict:
    from lifecycle.chains.engine import run_chains
    from lifecycle.ingest import ingest
    from lifecycle.migrations import migrate
    from lifecycle.policy import decide
    from lifecycle.scores.config import load_config
    from lifecycle.scores.scoring import score
    from lifecycle.scores.training import train_churn, train_ltv
    from lifecycle.warehouse import Warehouse

    path = DATA_DIR / "bench" / f"bench-{customers}.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    url = f"duckdb:///{path}"
    results: dict = {"customers": customers}
    cmd = [
        sys.executable,
        "-m",
        "lifecycle.demo",
        "--customers",
        str(customers),
        "--seed",
        "7",
        "--days",
        "730",
        "--end",
        END.isoformat(),
        "--warehouse",
        url,
    ]
    manifest = json.loads(
        timed(
            results,
            "generate",
            lambda: subprocess.run(cmd, check=True, capture_output=True, text=True).stdout,
        )
    )
    results["events"] = manifest["rows"]["shop.events"]

    warehouse = Warehouse(url)
    migrate(warehouse)
    timed(
        results, "initial_ingest", lambda: ingest(warehouse, window_end=END - HOUR, run_key="bench-initial")
    )
    hourly = timed(
        results,
        "hourly_ingest",
        lambda: ingest(warehouse, window_end=END, run_key="bench-hourly", interval_start=END - HOUR),
    )
    results["hourly_rows_read"] = sum(t.rows_read for t in hourly.tables)

    config = load_config()
    day = (END - timedelta(days=1)).date()
    timed(results, "train_churn", lambda: train_churn(warehouse, day, config))
    timed(results, "train_ltv", lambda: train_ltv(warehouse, day, config))
    timed(results, "daily_scores", lambda: score(warehouse, day, config, run_key="bench-scores"))

    figures = timed(results, "hourly_chains", lambda: run_chains(warehouse, END, "bench-chains"))
    results["due_steps"] = sum(f.due_steps for f in figures)
    timed(results, "policy", lambda: decide(warehouse, "bench-chains", END))
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return results


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_CUSTOMERS", "100000").split(",")]
    results = [bench_size(n) for n in sizes]
    for result in results:
        print(json.dumps(result))
    (DATA_DIR / "bench" / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
