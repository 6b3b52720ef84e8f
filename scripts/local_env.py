"""The environment of the local Airflow used by `make demo` and `make airflow`.

Everything lives under data/ (git-ignored): Airflow's home with its SQLite metadata database and logs,
and the demo warehouse `data/warehouse.duckdb`, exposed to the DAGs as the `lifecycle_warehouse` connection.
Values already set in the environment win, so a real warehouse can be used with the same commands.
"""

import json
import os
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / "data"
AIRFLOW_HOME = DATA_DIR / "airflow"
WAREHOUSE_FILE = DATA_DIR / "warehouse.duckdb"
#: The sandbox provider writes every "sent" message here (.eml + .html for email, .json for push and SMS).
OUTBOX_DIR = DATA_DIR / "outbox"
#: The demo's communication map: a copy of include/chains in which every chain holds out the same share of its
#: entrants (DEMO_HOLDOUT_SHARE, half by default), so that two simulated weeks of a 3,000-customer shop have
#: enough entrants in both arms to measure. `make demo` writes it; its Airflow runs and `make airflow` read
#: it while it exists (`rm -r data/demo-chains` to use include/chains as they are).
DEMO_CHAINS_DIR = DATA_DIR / "demo-chains"
#: Pools the DAGs use, with their local slot counts: one writer for the DuckDB file, one sender per channel.
POOLS = {
    "lifecycle_warehouse": 1,
    "lifecycle_delivery_email": 1,
    "lifecycle_delivery_push": 1,
    "lifecycle_delivery_sms": 1,
}
#: `make airflow PORT=8081` serves the UI, the REST API, the execution API and the webhooks on another port.
PORT = int(os.environ.get("PORT") or 8080)
UI_URL = f"http://localhost:{PORT}"
UI_LOGIN = ("admin", "admin")


def airflow_env() -> dict[str, str]:
    """os.environ plus the local Airflow settings (existing values are kept)."""
    defaults = {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(PORT),
        # Task processes report to the execution API of this same API server, on the same port.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{PORT}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{UI_LOGIN[0]}:admin",
        "AIRFLOW_CONN_LIFECYCLE_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(WAREHOUSE_FILE)}),
        # Email, push and SMS go to the sandbox: nothing leaves the machine. SMS carry an example price per
        # segment (roubles), so the runs show what they would have cost.
        "AIRFLOW_CONN_LIFECYCLE_SANDBOX": json.dumps(
            {
                "conn_type": "lifecycle_sandbox",
                "password": "local-sandbox-webhook-secret",
                "extra": {
                    "path": str(OUTBOX_DIR),
                    "from_email": "shop@shop.example",
                    "from_name": "Электросфера",
                    "sms_sender": "Elektro",
                    "sms_price_per_segment": 4.5,
                },
            }
        ),
        # Signed unsubscribe links and webhooks point at the local Airflow's plugin.
        "AIRFLOW_CONN_LIFECYCLE_LINKS": json.dumps(
            {
                "conn_type": "generic",
                "password": "local-links-signing-secret",
                "extra": {"base_url": f"{UI_URL}/lifecycle-webhooks"},
            }
        ),
    }
    if DEMO_CHAINS_DIR.is_dir():
        defaults["LIFECYCLE_CHAINS_DIR"] = str(DEMO_CHAINS_DIR)
    env = defaults | dict(os.environ)
    # `airflow standalone` starts its components as `airflow …` from PATH: this virtualenv's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def warehouse_url(env: dict[str, str]) -> str:
    """The SQLAlchemy URL of the warehouse connection the DAGs will use."""
    conn = json.loads(env["AIRFLOW_CONN_LIFECYCLE_WAREHOUSE"])
    if conn["conn_type"] != "duckdb":
        raise SystemExit("the demo builds its shop in a DuckDB file; unset AIRFLOW_CONN_LIFECYCLE_WAREHOUSE")
    return f"duckdb:///{conn['host']}"


def write_login(env: dict[str, str]) -> None:
    """Pre-write the simple auth manager's password file so the local login is the documented one."""
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "simple_auth_manager_passwords.json.generated"
    passwords.write_text(json.dumps({UI_LOGIN[0]: UI_LOGIN[1]}), encoding="utf-8")


def write_demo_chains(
    share: float, source: Path = PROJECT_DIR / "include" / "chains", target: Path = DEMO_CHAINS_DIR
) -> Path:
    """The demo's map (``target``): every chain file of ``source`` with its top-level ``holdout_share`` set to
    ``share``; the rest of each file, comments included, as written."""
    import re
    import shutil

    line = re.compile(r"^holdout_share:[^\n]*$", re.MULTILINE)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in sorted(source.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if len(line.findall(text)) != 1:
            raise SystemExit(f"{path}: expected one top-level 'holdout_share:' line to set the demo's share")
        shipped = line.search(text).group(0).split(":", 1)[1].strip()
        note = f"holdout_share: {share}  # the demo's share (DEMO_HOLDOUT_SHARE); include/chains: {shipped}"
        text = line.sub(note, text)
        (target / path.name).write_text(text, encoding="utf-8")
    return target
