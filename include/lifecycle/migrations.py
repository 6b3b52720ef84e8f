"""Versioned, idempotent schema migrations that run on DuckDB and PostgreSQL.

Migration files live in ``include/sql/migrations/<set>/NNNN_name.sql``; a file named
``NNNN_name.<dialect>.sql`` runs only on that engine. Each file runs once, in version order, inside one
transaction together with its bookkeeping row, so a failed migration leaves nothing half-applied.
Two sets exist: ``shop`` (the source tables, for the demo and tests; a real retailer already has them)
and ``crm`` (the pipeline's own schema).
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from lifecycle import sql
from lifecycle.errors import ConfigError
from lifecycle.paths import MIGRATIONS_DIR
from lifecycle.warehouse import SUPPORTED_DIALECTS, Warehouse

MIGRATION_SETS = ("shop", "crm")
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<dialect>[a-z]+))?\.sql$")


@dataclass(frozen=True)
class Migration:
    migration_set: str
    version: str
    name: str
    path: Path
    dialect: str | None

    def applies_to(self, dialect: str) -> bool:
        return self.dialect in (None, dialect)


def discover(migration_set: str) -> list[Migration]:
    """All migration files of a set, in version order; malformed names fail loudly."""
    folder = MIGRATIONS_DIR / migration_set
    found: dict[tuple[str, str | None], Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match or (match["dialect"] and match["dialect"] not in SUPPORTED_DIALECTS):
            raise ConfigError(
                str(path),
                "file name",
                "it is not NNNN_name.sql or NNNN_name.<duckdb|postgresql>.sql",
                "rename the file",
            )
        key = (match["version"], match["dialect"])
        if key in found:
            raise ConfigError(str(path), "version", f"version {key[0]} is used twice", "renumber one file")
        found[key] = Migration(migration_set, match["version"], match["name"], path, match["dialect"])
    return sorted(found.values(), key=lambda m: m.version)


def migrate(warehouse: Warehouse, sets: tuple[str, ...] = MIGRATION_SETS) -> list[str]:
    """Apply every pending migration of the given sets; returns the ones applied (``set/version_name``)."""
    applied_now: list[str] = []
    with warehouse.begin() as conn:
        warehouse.run_script(conn, (MIGRATIONS_DIR / "bootstrap.sql").read_text(encoding="utf-8"))
    for migration_set in sets:
        with warehouse.begin() as conn:
            done = {
                row[0]
                for row in warehouse.run(conn, "migrations/queries/applied.sql", migration_set=migration_set)
            }
        for migration in discover(migration_set):
            if migration.version in done or not migration.applies_to(warehouse.dialect):
                continue
            with warehouse.begin() as conn:
                warehouse.run_script(conn, migration.path.read_text(encoding="utf-8"))
                warehouse.run(
                    conn,
                    "migrations/queries/record.sql",
                    migration_set=migration_set,
                    version=migration.version,
                    name=migration.name,
                    applied_at=datetime.now(UTC).replace(tzinfo=None),
                )
            applied_now.append(f"{migration_set}/{migration.version}_{migration.name}")
    if "crm" in sets:
        _seed_timezones(warehouse)
    return applied_now


def _seed_timezones(warehouse: Warehouse) -> None:
    """Keep crm.ref_timezones equal to the tz database this Python knows (validation joins against it)."""
    with warehouse.begin() as conn:
        known = {row[0] for row in conn.exec_driver_sql("SELECT timezone FROM crm.ref_timezones")}
        missing = sorted(zoneinfo.available_timezones() - known)
        if missing:
            conn.execute(
                sa.text(sql.single_statement("migrations/queries/add_timezone.sql")),
                [{"timezone": name} for name in missing],
            )
