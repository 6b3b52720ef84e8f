"""A broken file stops only itself: entry queries are planned by the warehouse before a run (errors name the
SQL file and its line), and at run time a failing chain is recorded while every other chain runs and is
decided by the contact policy. On DuckDB and PostgreSQL."""

import shutil
from pathlib import Path

import pytest
import yaml
from chain_helpers import H, T, customer, insert, query

from lifecycle.chains.config import CHAINS_DIR, chain_ids, load_chain
from lifecycle.chains.engine import ChainsFailedError, run_chains
from lifecycle.chains.validation import EntryQueryError, check_chain_map, explain_entry
from lifecycle.errors import ConfigError
from lifecycle.paths import SQL_DIR
from lifecycle.policy import decide


def _break(tmp_path: Path, chain_id: str, old: str, new: str) -> tuple[Path, Path, int]:
    """A copy of the communication map whose chain ``chain_id`` runs a copy of its entry query with ``old``
    replaced by ``new`` (first time it appears in the code); returns the map folder, the query, its line."""
    folder = tmp_path / "chains"
    shutil.copytree(CHAINS_DIR, folder)
    data = yaml.safe_load((folder / f"{chain_id}.yaml").read_text(encoding="utf-8"))
    lines = (SQL_DIR / data["entry"]["sql"]).read_text(encoding="utf-8").splitlines()
    line = next(no for no, text in enumerate(lines) if old in text and not text.lstrip().startswith("--"))
    lines[line] = lines[line].replace(old, new, 1)
    broken = tmp_path / f"{chain_id}_broken.sql"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data["entry"]["sql"] = str(broken)  # an absolute path: include/sql/ is left as it is
    (folder / f"{chain_id}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder, broken, line + 1


def test_the_shipped_entry_queries_all_plan(wh):
    check = check_chain_map(wh)
    assert check.problems == {}
    assert sorted(check.chains) == chain_ids()


def test_a_typo_in_one_entry_query_is_named_with_file_and_line_and_the_rest_passes(wh, tmp_path):
    folder, broken, line = _break(tmp_path, "abandoned_cart", "SELECT", "SELEC")
    check = check_chain_map(wh, folder)
    assert list(check.problems) == ["abandoned_cart"]
    problem = check.problems["abandoned_cart"]
    assert problem.startswith(f"{broken}, line {line}: ")
    assert 'syntax error at or near "SELEC"' in problem
    assert "; the line reads `SELEC`" in problem
    assert "(entry query of chain abandoned_cart)" in problem
    assert "Fix: correct the query" in problem
    assert sorted(check.chains) == sorted(set(chain_ids()) - {"abandoned_cart"})


def test_an_unknown_column_is_found_by_planning_not_only_by_parsing(wh, tmp_path):
    folder, broken, line = _break(tmp_path, "welcome", "c.signup_source", "c.signup_sourc")
    with pytest.raises(EntryQueryError) as caught:
        explain_entry(wh, load_chain(folder / "welcome.yaml", check_templates=False))
    # Comment lines are not part of the statement the warehouse sees; the line is the file's own.
    assert caught.value.line == line == 11
    assert str(caught.value).startswith(f"{broken}, line 11: ")
    assert "signup_sourc" in str(caught.value)


def test_a_chain_failing_at_run_time_stops_only_itself(wh, tmp_path):
    folder, broken, line = _break(tmp_path, "abandoned_cart", "SELECT", "SELEC")
    # Loading checks the file but not the query: the failure happens at run time, as with a file that was
    # broken after validate_chains ran.
    chains = {chain_id: load_chain(folder / f"{chain_id}.yaml", False) for chain_id in chain_ids(folder)}
    insert(wh, "crm.customers", [customer(9001, registered_at=T)])
    run_key = "validation-run-1"

    with pytest.raises(ChainsFailedError) as caught:
        run_chains(wh, T + H, run_key, chains)

    assert list(caught.value.failures) == ["abandoned_cart"]
    failure = caught.value.failures["abandoned_cart"]
    assert failure["phase"] == "enter"
    assert failure["error"].startswith(f"{broken}, line {line}: ")
    assert "1 chain(s) failed in run validation-run-1, the other chains ran: abandoned_cart (enter)" in str(
        caught.value
    )
    assert len(caught.value.figures) == 15
    assert query(wh, f"SELECT chain_id, phase FROM crm.chain_run_failures WHERE run_key = '{run_key}'") == [
        ("abandoned_cart", "enter")
    ]
    # Nothing valid is lost: the other chains wrote their due steps and the policy decides them.
    assert query(wh, f"SELECT chain_id, customer_id FROM crm.due_steps WHERE run_key = '{run_key}'") == [
        ("welcome", 9001)
    ]
    decide(wh, run_key, T + H)
    assert query(wh, f"SELECT chain_id, outcome FROM crm.decisions WHERE run_key = '{run_key}'") == [
        ("welcome", "planned")
    ]

    # Once the file is fixed, running the chains again for the run clears the failure.
    run_chains(
        wh,
        T + H,
        run_key,
        {chain_id: load_chain(CHAINS_DIR / f"{chain_id}.yaml", False) for chain_id in chains},
    )
    assert query(wh, f"SELECT COUNT(*) FROM crm.chain_run_failures WHERE run_key = '{run_key}'") == [(0,)]


def test_an_exit_query_that_does_not_plan_fails_the_chain_at_validation(wh, tmp_path, monkeypatch):
    """The chain stops before its entry phase, not in its exit phase after customers entered."""
    import lifecycle.chains.engine as engine
    from lifecycle.chains.validation import checked_chain

    broken = tmp_path / "any_cart_broken.sql"
    text = (SQL_DIR / "chains/exits/any_cart.sql").read_text(encoding="utf-8")
    broken.write_text(text.replace("FROM crm.events", "FROM crm.event", 1), encoding="utf-8")
    shipped = engine.exit_statements
    monkeypatch.setattr(
        engine,
        "exit_statements",
        lambda chain, as_of, run_key: [
            (str(broken) if name == "chains/exits/any_cart.sql" else name, params)
            for name, params in shipped(chain, as_of, run_key)
        ],
    )

    with pytest.raises(ConfigError) as caught:
        checked_chain(wh, "abandoned_browse")
    assert str(caught.value).startswith(f"{broken}: field 'sql': ")
    assert "(exit 'any_cart_broken' of chain abandoned_browse)" in str(caught.value)
    assert "turn the exit off under exits" in str(caught.value)

    check = check_chain_map(wh)
    with_cart_exit = sorted(c for c in chain_ids() if load_chain(CHAINS_DIR / f"{c}.yaml").exits.any_cart)
    assert "abandoned_browse" in with_cart_exit
    assert sorted(check.problems) == with_cart_exit
    assert sorted(check.chains) == sorted(set(chain_ids()) - set(with_cart_exit))
