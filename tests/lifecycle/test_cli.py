"""`python -m lifecycle`: one command line for the package, run as a real process and through main(), on real
warehouses. Exit codes: 0 done, 1 problems found, 2 usage or configuration error; progress on stderr."""

import json
import shutil
import subprocess
import sys
from datetime import datetime

import pytest
import yaml

from lifecycle.__main__ import main
from lifecycle.chains.config import CHAINS_DIR, chain_ids
from lifecycle.paths import SQL_DIR

END = "2026-03-02T00:00"


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "lifecycle", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def url_of(warehouse) -> str:
    return warehouse.url.render_as_string(hide_password=False)


def test_help_lists_every_command_and_a_wrong_one_is_a_usage_error():
    shown = cli("--help")
    assert shown.returncode == 0
    for command in (
        "migrate",
        "ingest",
        "train",
        "score",
        "chains",
        "dispatch",
        "report",
        "demo",
        "send-audit",
    ):
        assert command in shown.stdout
    wrong = cli("migrat")
    assert wrong.returncode == 2
    assert "invalid choice: 'migrat'" in wrong.stderr


def test_migrate_applies_only_the_sets_asked_for(warehouse, capsys):
    assert main(["migrate", "--warehouse", url_of(warehouse), "--sets", "crm"]) == 0
    out, err = capsys.readouterr()
    assert "crm/0001_ingest" in out
    assert "shop/" not in out
    assert "migration(s) applied" in err
    with warehouse.begin() as conn:
        shop_tables = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'shop'"
        ).scalar()
    assert shop_tables == 0  # a retailer's own shop schema is left alone

    assert main(["migrate", "--warehouse", url_of(warehouse), "--sets", "crm"]) == 0
    assert "up to date" in capsys.readouterr().err
    assert main(["migrate", "--warehouse", url_of(warehouse), "--sets", "crm,billing"]) == 2
    assert "use one or more of shop, crm" in capsys.readouterr().err


def test_chains_check_on_a_scratch_warehouse_passes_the_shipped_map():
    done = cli("chains", "check", "--scratch")
    assert done.returncode == 0, done.stderr
    assert f"{len(chain_ids())} chain(s) fine, 0 broken, 0 warning(s)" in done.stderr
    assert "warning" not in done.stdout  # the shipped map says nothing it does not do
    strict = cli("chains", "check", "--scratch", "--strict", "--no-templates")
    assert strict.returncode == 0, strict.stdout


def test_chains_check_fails_with_the_file_of_a_broken_entry_query(migrated, tmp_path, capsys):
    folder = tmp_path / "chains"
    shutil.copytree(CHAINS_DIR, folder)
    broken = tmp_path / "abandoned_cart_broken.sql"
    text = (SQL_DIR / "chains/abandoned_cart.sql").read_text(encoding="utf-8")
    broken.write_text(text.replace("e.event_type = 'add_to_cart'", "e.event_typ = 'add_to_cart'", 1))
    data = yaml.safe_load((folder / "abandoned_cart.yaml").read_text(encoding="utf-8"))
    data["entry"]["sql"] = str(broken)
    (folder / "abandoned_cart.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    code = main(
        ["chains", "check", "--warehouse", url_of(migrated), "--folder", str(folder), "--no-templates"]
    )

    out, err = capsys.readouterr()
    assert code == 1
    assert f"BROKEN   abandoned_cart: {broken}, line " in out
    assert "event_typ" in out
    assert "ok       welcome" in out
    assert "1 broken" in err


def test_a_chains_check_that_cannot_reach_the_warehouse_is_a_configuration_error(capsys):
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/lifecycle_no_such_database"
    assert main(["chains", "check", "--warehouse", url, "--no-templates"]) == 2
    assert "is unreachable" in capsys.readouterr().err


def test_preview_of_an_unknown_chain_names_the_known_ones(capsys):
    assert main(["chains", "preview", "abandoned_kart"]) == 2
    assert "there is no chain 'abandoned_kart'" in capsys.readouterr().err


def test_dispatch_without_a_link_secret_is_a_configuration_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LIFECYCLE_LINK_SECRET", raising=False)
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    assert main(["dispatch", "--warehouse", url, "--outbox", str(tmp_path / "out")]) == 2
    assert "LIFECYCLE_LINK_SECRET" in capsys.readouterr().err


@pytest.fixture(scope="module")
def demo_shop(tmp_path_factory):
    """A small demo shop made, migrated and ingested through the command line only (DuckDB)."""
    url = f"duckdb:///{tmp_path_factory.mktemp('cli') / 'warehouse.duckdb'}"
    for args in (
        ("migrate", "--sets", "crm"),
        ("demo", "--customers", "400", "--seed", "5", "--end", END),
        ("ingest", "--until", END),
    ):
        done = cli(*args, "--warehouse", url)
        assert done.returncode == 0, (args, done.stderr)
    return url


def test_ingest_then_preview_through_the_command_line(demo_shop):
    from lifecycle.chains.config import load_chain
    from lifecycle.chains.engine import process_chain
    from lifecycle.warehouse import Warehouse

    done = cli("chains", "preview", "abandoned_cart", "--at", END, "--json", "--warehouse", demo_shop)
    assert done.returncode == 0, done.stderr
    preview = json.loads(done.stdout)
    assert "nothing is written" in done.stderr
    assert preview["chain_id"] == "abandoned_cart"
    assert preview["entering"] > 0
    assert len(preview["sample"]) == min(10, preview["entering"])
    assert {"customer_id", "trigger_key", "triggered_at"} <= set(preview["sample"][0])

    text = cli("chains", "preview", "abandoned_cart", "--at", END, "--warehouse", demo_shop)
    assert f"{preview['entering']} customer(s) would enter" in text.stdout
    assert "contact policy on the new entrants' due steps:" in text.stdout

    warehouse = Warehouse(demo_shop)
    figures = process_chain(
        warehouse, load_chain(CHAINS_DIR / "abandoned_cart.yaml"), datetime.fromisoformat(END), "cli-real"
    )
    warehouse.engine.dispose()
    assert figures.entered == preview["entering"]


def test_chains_run_writes_a_run_and_its_decisions(demo_shop):
    done = cli("chains", "run", "--at", END, "--run-key", "cli-run", "--warehouse", demo_shop)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["run_key"] == "cli-run"
    assert sorted(f["chain_id"] for f in result["chains"]) == chain_ids()
    assert result["policy"]["due_steps"] == sum(f["due_steps"] for f in result["chains"])
    assert "chains and policy done" in done.stderr


def test_dispatch_sends_to_the_sandbox_folder(demo_shop, tmp_path):
    # Its own planning run: with two test workers the other tests' runs may not have happened on this one.
    planned = cli("chains", "run", "--at", END, "--run-key", "cli-dispatch", "--warehouse", demo_shop)
    assert planned.returncode == 0, planned.stderr
    done = cli(
        "dispatch",
        "--warehouse",
        demo_shop,
        "--outbox",
        str(tmp_path / "outbox"),
        "--channel",
        "email",
        env={"LIFECYCLE_LINK_SECRET": "a-test-secret-of-enough-bytes"},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["channel"] == "email"
    assert report["provider"] == "sandbox"
    assert "email via sandbox: claimed" in done.stderr
    # The run planned messages for the shop's last hour; by the wall clock they are long past their freshness,
    # so dispatch retires them instead of sending stale messages.
    assert report["expired"] > 0
    assert report["sent"] == len(list((tmp_path / "outbox").glob("email/*.eml")))
