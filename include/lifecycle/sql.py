"""The project's SQL files: one query per file under include/sql, each opening with a header comment.

Python never formats SQL: a file is loaded as it is and executed with bound parameters (``:name``). A file is
read again when it changes on disk (its modification time or size), so an analyst's edit reaches the next run,
preview or page of a long-lived process such as Airflow's api-server without a restart.
"""

import re
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from lifecycle.errors import ConfigError
from lifecycle.paths import SQL_DIR


def load(name: str, dialect: str | None = None) -> str:
    """Return the text of ``include/sql/<name>``; the file must open with a ``--`` header comment.

    With ``dialect`` (``postgresql``, ``duckdb``), a variant of the file for that engine beside it
    (``ingest/x.postgresql.sql`` for ``ingest/x.sql``) is read instead, when there is one: for the few steps
    where one text cannot get a good plan from both engines."""
    path = variant(name, dialect)
    try:
        stat = path.stat()
    except OSError:
        stat = None
    if stat is None or not path.is_file():
        raise ConfigError(str(path), "sql", "the file does not exist", "create it or correct the name")
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=2048)
def _read(path: str, mtime_ns: int, size: int) -> str:
    """The text of one version of a file: the version is its modification time and size."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    if not text.lstrip().startswith("--"):
        raise ConfigError(
            path,
            "header",
            "the file has no header comment",
            "start it with '--' lines naming its inputs, outputs and parameters",
        )
    return text


# A statement ends with a semicolon at the end of a line; the project's SQL files follow that layout.
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")


def variant(name: str, dialect: str | None) -> Path:
    """The file ``name`` stands for on ``dialect``: its engine variant if there is one, or itself."""
    path = SQL_DIR / name
    if dialect and path.suffix == ".sql":
        own = path.with_suffix(f".{dialect}.sql")
        if own.is_file():
            return own
    return path


def statements(name: str, dialect: str | None = None) -> tuple[str, ...]:
    """The statements of a file (or its variant for ``dialect``), in order, without their comment lines
    (which may mention ``:params``)."""
    return _split(load(name, dialect))


@lru_cache(maxsize=2048)
def _split(text: str) -> tuple[str, ...]:
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return tuple(chunk.strip() for chunk in _STATEMENT_END.split(code) if chunk.strip())


def single_statement(name: str) -> str:
    """The one statement of a query file; more than one is a mistake worth naming."""
    found = statements(name)
    if len(found) != 1:
        raise ConfigError(
            str(SQL_DIR / name),
            "sql",
            f"expected one statement, found {len(found)}",
            "split the file or run it with Warehouse.run_steps",
        )
    return found[0]


@lru_cache(maxsize=2048)
def clause(statement: str) -> tuple[sa.TextClause, tuple[str, ...]]:
    """The statement as a clause and the names it binds, parsed once per text (an hourly run executes the
    same few hundred statements; parsing and compiling each again cost a millisecond or two apiece)."""
    text = sa.text(statement)
    return text, tuple(text.compile().params)


def binds(name: str) -> frozenset[str]:
    """The parameters the one statement of the file ``name`` binds, as the file reads now."""
    return frozenset(clause(single_statement(name))[1])
