"""`make airflow`: Airflow standalone on http://localhost:8080 (`make airflow PORT=8081` for another port)
with this project's DAGs, plugins and the demo warehouse; login admin / admin. Run `make demo` first to have
data to look at."""

import json
import os
import subprocess
import sys

from local_env import (
    DEMO_CHAINS_DIR,
    POOLS,
    PORT,
    UI_LOGIN,
    UI_URL,
    WAREHOUSE_FILE,
    airflow_env,
    write_login,
)


def main() -> None:
    env = airflow_env()
    if "AIRFLOW_CONN_LIFECYCLE_WAREHOUSE" not in os.environ and not WAREHOUSE_FILE.exists():
        print(f"No demo warehouse at {WAREHOUSE_FILE}: run `make demo` first.", file=sys.stderr)
        sys.exit(1)
    write_login(env)
    # Tasks write a short digest into their run's note through the REST API of this same Airflow.
    env.setdefault(
        "AIRFLOW_CONN_LIFECYCLE_AIRFLOW_API",
        json.dumps(
            {
                "conn_type": "http",
                "host": "localhost",
                "port": PORT,
                "login": UI_LOGIN[0],
                "password": UI_LOGIN[1],
            }
        ),
    )
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    # DuckDB has one writer per file: warehouse tasks take turns through a one-slot pool; each delivery
    # channel sends from one task at a time.
    for pool, slots in POOLS.items():
        subprocess.run(
            [*airflow, "pools", "set", pool, str(slots), "lifecycle"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if env.get("LIFECYCLE_CHAINS_DIR") == str(DEMO_CHAINS_DIR):
        print(
            f"Chains: {DEMO_CHAINS_DIR}, the demo's copy of include/chains with its holdout share "
            "(`make demo` rewrites it; remove the folder to run include/chains as they are)",
            flush=True,
        )
    print(f"Airflow UI: {UI_URL}  (login {UI_LOGIN[0]} / {UI_LOGIN[1]}); stop with Ctrl+C", flush=True)
    os.execvpe(airflow[0], [*airflow, "standalone"], env)


if __name__ == "__main__":
    main()
