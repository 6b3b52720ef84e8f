"""Checking the communication map before a run: every chain file on its own, its entry query and the exit
queries it turns on planned by the warehouse itself (``EXPLAIN``), so a typo in an analyst's SQL is caught
with its file and line before the chain does anything, not in its exit phase after new customers entered.

A problem in one chain does not hide the others: :func:`check_chain_map` returns the chains that are fine and
one message per broken chain; the chains DAG runs the good ones and fails only the broken ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from lifecycle import sql
from lifecycle.chains.config import (
    CHAINS_DIR,
    NO_SCORES,
    ChainConfig,
    chain_ids,
    check_references,
    load_chain,
)
from lifecycle.errors import ConfigError
from lifecycle.paths import SQL_DIR

if TYPE_CHECKING:
    from lifecycle.warehouse import Warehouse

# Both engines point at the statement's line in their error text ("LINE 3: SELEC ...").
_ERROR_LINE = re.compile(r"^LINE (\d+):", re.MULTILINE)
_FIX = "correct the query (docs/chains.md, 'Validation and failures'); validate_chains plans it with EXPLAIN"
#: Errors that are the query's fault (syntax, unknown names, types, bad values). Others, such as a lost
#: connection, are the warehouse's and are raised as they are, so that the task is retried.
QUERY_FAULTS = (sa.exc.ProgrammingError, sa.exc.DataError)


class EntryQueryError(ConfigError):
    """A chain's entry query does not parse or plan on the warehouse; names the SQL file, the line and
    the chain."""

    def __init__(self, file: str, line: int | None, problem: str, chain_id: str, code: str | None = None):
        self.file, self.line, self.problem, self.fix = file, line, problem, _FIX
        self.field = f"line {line}" if line else "sql"
        where = f"{file}, line {line}" if line else file
        shown = f"; the line reads `{code.strip()}`" if code and code.strip() else ""
        Exception.__init__(self, f"{where}: {problem}{shown} (entry query of chain {chain_id}). Fix: {_FIX}")


@dataclass
class ChainMapCheck:
    """The chains that passed every check, and for each broken chain what is wrong with it."""

    chains: dict[str, ChainConfig] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def check_chain_map(
    warehouse: Warehouse, folder: Path = CHAINS_DIR, check_templates: bool | None = None
) -> ChainMapCheck:
    """Every chain file of ``folder`` checked on its own, its entry query planned on ``warehouse``."""
    result = ChainMapCheck()
    with warehouse.held_open():  # one opening of a DuckDB file for all the plans
        for chain_id in chain_ids(folder):
            try:
                result.chains[chain_id] = checked_chain(warehouse, chain_id, folder, check_templates)
            except ConfigError as exc:
                result.problems[chain_id] = str(exc)
    return result


def checked_chain(
    warehouse: Warehouse, chain_id: str, folder: Path = CHAINS_DIR, check_templates: bool | None = None
) -> ChainConfig:
    """One chain, loaded and validated, its references to other chains resolved, its entry query and exit
    queries planned; raises :class:`ConfigError` (or :class:`EntryQueryError`) naming the file."""
    path = folder / f"{chain_id}.yaml"
    chain = load_chain(path, check_templates)
    check_references(path, chain, set(chain_ids(folder)))
    explain_entry(warehouse, chain)
    explain_exits(warehouse, chain)
    return chain


def explain_entry(warehouse: Warehouse, chain: ChainConfig) -> None:
    """Have the warehouse parse and plan the chain's entry query (nothing is read); raise
    :class:`EntryQueryError` with the file and line when it cannot."""
    now = datetime.now(UTC).replace(tzinfo=None)
    # A plan needs the statement itself; the only text added is the EXPLAIN keyword, values stay bound.
    statement = sa.text("EXPLAIN " + sql.single_statement(chain.entry.sql))
    try:
        with warehouse.begin() as conn:
            conn.execute(statement, {"since": now, "as_of": now, **NO_SCORES, **chain.entry.params})
    except QUERY_FAULTS as exc:
        raise entry_query_error(chain, exc) from exc


def explain_exits(warehouse: Warehouse, chain: ChainConfig) -> None:
    """Have the warehouse plan every exit query the chain turns on; raise :class:`ConfigError` naming the
    SQL file and the chain when one does not plan."""
    from lifecycle.chains.engine import exit_statements

    now = datetime.now(UTC).replace(tzinfo=None)
    for name, params in exit_statements(chain, now, "chains-check"):
        statement = sa.text("EXPLAIN " + sql.single_statement(name))
        try:
            with warehouse.begin() as conn:
                conn.execute(statement, params)
        except QUERY_FAULTS as exc:
            message = str(exc.orig).strip()
            problem = message.splitlines()[0] if message else type(exc.orig).__name__
            raise ConfigError(
                str(SQL_DIR / name),
                "sql",
                f"{problem} (exit '{Path(name).stem}' of chain {chain.id})",
                "correct the exit query, or turn the exit off under exits in the chain's file",
            ) from exc


def entry_query_error(chain: ChainConfig, exc: sa.exc.DBAPIError) -> EntryQueryError:
    """The warehouse's complaint about a chain's entry query, with the query file's own line number."""
    message = str(exc.orig)
    problem = message.strip().splitlines()[0] if message.strip() else type(exc.orig).__name__
    found = _ERROR_LINE.search(message)
    line = file_line(chain.entry.sql, int(found[1])) if found else None
    code = sql.load(chain.entry.sql).splitlines()[line - 1] if line else None
    return EntryQueryError(str(SQL_DIR / chain.entry.sql), line, problem, chain.id, code)


def file_line(name: str, statement_line: int) -> int | None:
    """The line of ``include/sql/<name>`` that is line ``statement_line`` of its (single) statement as
    executed: comment lines are left out of the statement, so the numbers differ."""
    lines = sql.load(name).splitlines()
    code = [no for no, text in enumerate(lines, start=1) if not text.lstrip().startswith("--")]
    while code and not lines[code[0] - 1].strip():  # the statement is stripped of leading blank lines
        code.pop(0)
    return code[statement_line - 1] if 0 < statement_line <= len(code) else None
