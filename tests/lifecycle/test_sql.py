"""SQL files are read again when they change on disk, so a long-lived process (Airflow's api-server, a
worker) sees an analyst's edit without a restart; unchanged files are not re-read."""

import os

import pytest

from lifecycle import sql
from lifecycle.errors import ConfigError


@pytest.fixture
def sql_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(sql, "SQL_DIR", tmp_path)
    return tmp_path


def _write(path, text, mtime_ns=None):
    path.write_text(text, encoding="utf-8")
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def test_an_edited_file_is_read_again(sql_dir):
    query = sql_dir / "q.sql"
    _write(query, "-- q\nSELECT 1 AS one\n", 1_000_000_000)
    assert sql.single_statement("q.sql") == "SELECT 1 AS one"
    # the same length and a new modification time: still seen
    _write(query, "-- q\nSELECT 2 AS one\n", 2_000_000_000)
    assert sql.single_statement("q.sql") == "SELECT 2 AS one"
    _write(query, "-- q\nSELECT 3 AS three;\nSELECT 4 AS four;\n", 3_000_000_000)
    assert sql.statements("q.sql") == ("SELECT 3 AS three", "SELECT 4 AS four")
    with pytest.raises(ConfigError, match="expected one statement, found 2"):
        sql.single_statement("q.sql")


def test_an_unchanged_file_comes_from_the_cache(sql_dir):
    query = sql_dir / "q.sql"
    _write(query, "-- q\nSELECT 1\n", 1_000_000_000)
    sql.load("q.sql")
    reads = sql._read.cache_info().misses
    for _ in range(3):
        sql.load("q.sql")
    assert sql._read.cache_info().misses == reads


def test_a_file_that_loses_its_header_or_disappears_is_named(sql_dir):
    query = sql_dir / "q.sql"
    _write(query, "-- q\nSELECT 1\n", 1_000_000_000)
    sql.load("q.sql")
    _write(query, "SELECT 1\n", 2_000_000_000)
    with pytest.raises(ConfigError, match=r"q\.sql: field 'header'"):
        sql.load("q.sql")
    query.unlink()
    with pytest.raises(ConfigError, match=r"q\.sql: field 'sql': the file does not exist"):
        sql.load("q.sql")


def test_the_parameters_a_file_binds_follow_an_edit(sql_dir):
    """The engine binds the daily scores only into an entry query that names them: an analyst who adds
    ``:scores_as_of`` to a running deployment's query gets it bound on the next run."""
    query = sql_dir / "q.sql"
    _write(query, "-- q binds :since in this comment only\nSELECT 1 WHERE :as_of > 0\n", 1_000_000_000)
    assert sql.binds("q.sql") == {"as_of"}
    _write(query, "-- q\nSELECT 1 WHERE :as_of > :scores_as_of\n", 2_000_000_000)
    assert sql.binds("q.sql") == {"as_of", "scores_as_of"}


def test_a_file_has_an_engine_variant_only_where_one_lies_beside_it():
    from lifecycle import sql
    from lifecycle.paths import SQL_DIR

    assert (
        sql.variant("ingest/stored_events.sql", "postgresql")
        == SQL_DIR / "ingest/stored_events.postgresql.sql"
    )
    assert sql.variant("ingest/stored_events.sql", "duckdb") == SQL_DIR / "ingest/stored_events.sql"
    assert sql.variant("ingest/stored_events.sql", None) == SQL_DIR / "ingest/stored_events.sql"
    assert sql.variant("ingest/events.sql", "postgresql") == SQL_DIR / "ingest/events.sql"
    assert "LATERAL" in sql.load("ingest/stored_events.sql", "postgresql")
    assert "LATERAL" not in sql.load("ingest/stored_events.sql", "duckdb")
