"""`make bench`: speed of the demo shop generator and of the ingest at scale, on DuckDB.

For each size it builds a fresh shop in data/bench/, ingests the whole history except its last hour (the
initial load), then times the hourly run for the last hour on top of that history: the figure that must
follow the hour's new rows, not the history. Sizes: BENCH_CUSTOMERS (comma-separated, default 100000).
Results are printed and written to data/bench/results.json.
"""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta

from local_env import DATA_DIR

END = datetime(2026, 11, 23, 12, 0)


def bench_size(customers: int) -> dict:
    from lifecycle.ingest import ingest
    from lifecycle.migrations import migrate
    from lifecycle.warehouse import Warehouse

    path = DATA_DIR / "bench" / f"bench-{customers}.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    url = f"duckdb:///{path}"
    started = time.perf_counter()
    cmd = [
        sys.executable,
        "-m",
        "lifecycle.demo",
        "--customers",
        str(customers),
        "--seed",
        "7",
        "--end",
        END.isoformat(),
        "--warehouse",
        url,
    ]
    manifest = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    generate_s = time.perf_counter() - started

    warehouse = Warehouse(url)
    migrate(warehouse)
    started = time.perf_counter()
    ingest(warehouse, window_end=END - timedelta(hours=1), run_key="bench-initial")
    initial_s = time.perf_counter() - started
    started = time.perf_counter()
    hourly = ingest(
        warehouse, window_end=END, run_key="bench-hourly", interval_start=END - timedelta(hours=1)
    )
    hourly_s = time.perf_counter() - started
    rows = manifest.get("rows", {})
    return {
        "customers": customers,
        "events": rows.get("shop.events", rows.get("events")),
        "generate_s": round(generate_s, 1),
        "initial_ingest_s": round(initial_s, 1),
        "hourly_ingest_s": round(hourly_s, 2),
        "hourly_rows_read": sum(t.rows_read for t in hourly.tables),
    }


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_CUSTOMERS", "100000").split(",")]
    results = [bench_size(n) for n in sizes]
    for result in results:
        print(json.dumps(result))
    (DATA_DIR / "bench" / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
