"""Where the project's non-Python assets live, derived from this file so any checkout location works.

``LIFECYCLE_SQL_DIR`` points the SQL files somewhere else (a copy of ``include/sql`` with an analyst's edits,
a test's scratch copy); it is read once, when this module is imported.
"""

import os
from pathlib import Path

INCLUDE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = INCLUDE_DIR.parent
#: Environment variable naming another folder of SQL files than include/sql (a full copy of it).
SQL_DIR_ENV = "LIFECYCLE_SQL_DIR"
SQL_DIR = Path(os.environ.get(SQL_DIR_ENV) or INCLUDE_DIR / "sql").resolve()
TEMPLATES_DIR = INCLUDE_DIR / "templates"
MIGRATIONS_DIR = SQL_DIR / "migrations"
DATA_DIR = PROJECT_DIR / "data"
