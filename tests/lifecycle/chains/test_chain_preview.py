"""`chains preview` and `chains check` on real warehouses (DuckDB and PostgreSQL).

The preview of a chain on a small demo shop admits exactly the customers a real run at the same time admits,
and the contact policy decides their steps the same way, while nothing in the warehouse changes. The check
names a broken entry query with its file, and warns about overrides that cannot match and values that
disagree.
"""

import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from lifecycle.chains.check import check_chains, recency_range
from lifecycle.chains.config import CHAINS_DIR, chain_ids, load_chain
from lifecycle.paths import SQL_DIR

END = datetime(2026, 3, 2)
CHAINS = ("abandoned_cart", "win_back", "post_purchase")


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def shop(request, tmp_path_factory):
    """A migrated warehouse with a small ingested demo shop, per engine."""
    import os
    import uuid

    import sqlalchemy as sa
    from chain_helpers import PG_ADMIN_URL

    from lifecycle.demo.config import DemoConfig
    from lifecycle.demo.generator import generate
    from lifecycle.ingest import ingest
    from lifecycle.migrations import migrate
    from lifecycle.warehouse import Warehouse

    admin = name = None
    if request.param == "duckdb":
        warehouse = Warehouse(f"duckdb:///{tmp_path_factory.mktemp('preview') / 'warehouse.duckdb'}")
    else:
        admin = sa.create_engine(sa.make_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
        name = f"lifecycle_test_{uuid.uuid4().hex[:12]}"
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except sa.exc.OperationalError as exc:
            admin.dispose()
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(f"PostgreSQL is required in CI: {exc.orig}", pytrace=False)
            pytest.skip("PostgreSQL unreachable")
        warehouse = Warehouse(sa.make_url(PG_ADMIN_URL).set(database=name))
    try:
        migrate(warehouse)
        generate(warehouse, DemoConfig(customers=600, seed=11, end=END))
        ingest(warehouse, window_end=END, run_key="ingest", now=END)
        yield warehouse
    finally:
        warehouse.engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


def row_counts(warehouse) -> dict[str, int]:
    with warehouse.begin() as conn:
        tables = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'crm' ORDER BY 1"
            )
        ]
        return {t: conn.exec_driver_sql(f"SELECT COUNT(*) FROM crm.{t}").scalar() for t in tables}


def test_the_preview_enters_whom_a_real_run_enters_and_writes_nothing(shop):
    from lifecycle.chains.engine import process_chain
    from lifecycle.chains.preview import preview_chain
    from lifecycle.policy.stage import decide

    before = row_counts(shop)
    previews = {c: preview_chain(shop, load_chain(CHAINS_DIR / f"{c}.yaml"), END) for c in CHAINS}
    assert row_counts(shop) == before  # not a row more or less in any crm table
    assert sum(p.entering for p in previews.values()) > 0

    for chain_id, preview in previews.items():
        run_key = f"real-{chain_id}"
        figures = process_chain(shop, load_chain(CHAINS_DIR / f"{chain_id}.yaml"), END, run_key)
        assert (preview.triggers, preview.entering, preview.exited, preview.due_steps) == (
            figures.candidates,
            figures.entered,
            figures.exited,
            figures.due_steps,
        ), chain_id
        entered = {
            (r["customer_id"], r["trigger_key"])
            for r in shop.fetch_all("chains/preview/entered.sql", chain_id=chain_id, run_key=run_key)
        }
        assert {(r["customer_id"], r["trigger_key"]) for r in preview.sample} <= entered
        assert len(preview.sample) == min(10, preview.entering)

        funnel = decide(shop, run_key, END)["funnel"]
        real = sorted((r["outcome"], r["reason"], int(r["steps"])) for r in funnel)
        previewed = {}
        for row in preview.entrants_policy + preview.active_policy:
            key = (row["outcome"], row["reason"])
            previewed[key] = previewed.get(key, 0) + row["steps"]
        assert sorted((*k, v) for k, v in previewed.items()) == real, chain_id


def copy_map(tmp_path: Path) -> Path:
    folder = tmp_path / "chains"
    shutil.copytree(CHAINS_DIR, folder)
    return folder


def edit(folder: Path, chain_id: str, change) -> None:
    path = folder / f"{chain_id}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_the_check_names_a_broken_entry_query_and_passes_the_rest(migrated, tmp_path):
    folder = copy_map(tmp_path)
    broken = tmp_path / "welcome_broken.sql"
    text = (SQL_DIR / "chains/welcome.sql").read_text(encoding="utf-8")
    broken.write_text(text.replace("c.signup_source", "c.signup_sourc", 1), encoding="utf-8")
    edit(folder, "welcome", lambda d: d["entry"].update(sql=str(broken)))

    result = check_chains(migrated, folder, check_templates=False)

    assert list(result.problems) == ["welcome"]
    assert result.problems["welcome"].startswith(f"{broken}, line ")
    assert "signup_sourc" in result.problems["welcome"]
    assert sorted(result.chains) == sorted(set(chain_ids()) - {"welcome"})


def test_the_check_warns_about_overrides_no_customer_can_match(migrated, tmp_path):
    folder = copy_map(tmp_path)

    def overrides(data):
        data["steps"][0]["segment_overrides"] = {"111": {"skip": True}, "2**": {"offer": "mild"}}

    edit(folder, "win_back", overrides)
    result = check_chains(migrated, folder, check_templates=False)

    fields = [(w.chain_id, w.field) for w in result.warnings]
    assert ("win_back", "steps.0.segment_overrides.111") in fields  # over a year without buying: never
    assert ("win_back", "steps.0.segment_overrides.2**") not in fields  # 91-365 days: 90-day lapsers
    warning = next(w for w in result.warnings if w.field == "steps.0.segment_overrides.111")
    assert warning.file == str(folder / "win_back.yaml")
    assert "can never match" in warning.message
    assert "never 1" in warning.message
    # Chains not timed from a purchase are not judged.
    assert not [w for w in result.warnings if w.chain_id == "abandoned_cart"]
    assert result.problems == {}


def test_win_back_recency_is_bounded_by_its_lapses_and_steps():
    chain = load_chain(CHAINS_DIR / "win_back.yaml", check_templates=False)
    lowest, highest = recency_range(chain, 2)  # email_3 at day 8, fresh for 2 days
    assert lowest == 30 + 8 - 2
    assert highest == 90 + 8 + 2


def test_idle_hours_follows_the_first_step_and_a_disagreeing_value_warns(migrated, tmp_path):
    folder = copy_map(tmp_path)
    assert load_chain(folder / "abandoned_cart.yaml", False).entry.params["idle_hours"] == 2

    edit(folder, "abandoned_cart", lambda d: d["steps"][0].update(delay="3h"))
    assert load_chain(folder / "abandoned_cart.yaml", False).entry.params["idle_hours"] == 3

    edit(folder, "abandoned_cart", lambda d: d["entry"]["params"].update(idle_hours=1))
    result = check_chains(migrated, folder, check_templates=False)
    warning = next(w for w in result.warnings if w.chain_id == "abandoned_cart")
    assert warning.field == "entry.params.idle_hours"
    assert "differs from the first step's delay (email_1: 3:00:00)" in warning.message


def test_a_broken_scores_file_skips_only_the_override_check(migrated, tmp_path, monkeypatch):
    import lifecycle.scores.config as scores_config

    broken = tmp_path / "scores.yaml"
    broken.write_text("rfm:\n  recency_days: [365, 90]\n", encoding="utf-8")
    monkeypatch.setattr(scores_config, "DEFAULT_CONFIG_FILE", broken)

    result = check_chains(migrated, check_templates=False)

    assert result.problems == {}
    assert sorted(result.chains) == chain_ids()
    assert [w.file for w in result.warnings] == [str(broken)]
    assert "overrides not checked" in result.warnings[0].message


def test_the_check_plans_the_exit_queries_a_chain_turns_on(migrated, tmp_path, monkeypatch):
    import lifecycle.chains.engine as engine

    broken = tmp_path / "any_purchase_broken.sql"
    text = (SQL_DIR / "chains/exits/any_purchase.sql").read_text(encoding="utf-8")
    broken.write_text(text.replace("FROM crm.orders", "FROM crm.order", 1), encoding="utf-8")
    shipped = engine.exit_statements

    def with_broken_exit(chain, as_of, run_key):
        return [
            (str(broken) if name == "chains/exits/any_purchase.sql" else name, params)
            for name, params in shipped(chain, as_of, run_key)
        ]

    monkeypatch.setattr(engine, "exit_statements", with_broken_exit)
    result = check_chains(migrated, check_templates=False)

    turned_on = sorted(
        c for c in chain_ids() if load_chain(CHAINS_DIR / f"{c}.yaml", False).exits.any_purchase
    )
    assert "win_back" in turned_on
    assert sorted(result.problems) == turned_on
    assert result.problems["win_back"].startswith(f"{broken}: field 'sql': ")
    assert "(exit 'any_purchase_broken' of chain win_back)" in result.problems["win_back"]
