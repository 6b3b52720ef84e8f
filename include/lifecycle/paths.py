"""Where the project's non-Python assets live, derived from this file so any checkout location works."""

from pathlib import Path

INCLUDE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = INCLUDE_DIR.parent
SQL_DIR = INCLUDE_DIR / "sql"
TEMPLATES_DIR = INCLUDE_DIR / "templates"
MIGRATIONS_DIR = SQL_DIR / "migrations"
DATA_DIR = PROJECT_DIR / "data"
