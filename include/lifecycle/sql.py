"""The project's SQL files: one query per file under include/sql, each opening with a header comment.

Python never formats SQL: a file is loaded as it is and executed with bound parameters (``:name``).
"""

from functools import cache

from lifecycle.errors import ConfigError
from lifecycle.paths import SQL_DIR


@cache
def load(name: str) -> str:
    """Return the text of ``include/sql/<name>``; the file must open with a ``--`` header comment."""
    path = SQL_DIR / name
    if not path.is_file():
        raise ConfigError(str(path), "sql", "the file does not exist", "create it or correct the name")
    text = path.read_text(encoding="utf-8")
    if not text.lstrip().startswith("--"):
        raise ConfigError(
            str(path), "header", "the file has no header comment",
            "start it with '--' lines naming its inputs, outputs and parameters",
        )
    return text
