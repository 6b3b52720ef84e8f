"""Loading analyst-editable YAML settings into pydantic models, with errors that name file, field and fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ValidationError

from lifecycle.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)
_DURATION = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?$")


def parse_duration(text: str | int) -> timedelta:
    """``"2h"``, ``"1d"``, ``"3d12h"``, ``"30m"``, ``"0h"`` -> timedelta; anything else is a ValueError."""
    if isinstance(text, timedelta):
        return text
    match = _DURATION.match(str(text).strip()) if not isinstance(text, bool) else None
    if not match or not str(text).strip():
        raise ValueError(f"{text!r} is not a duration like 2h, 1d, 3d12h or 30m")
    return timedelta(days=int(match["d"] or 0), hours=int(match["h"] or 0), minutes=int(match["m"] or 0))


#: A settings field written as a duration ("4h", "1d12h").
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def load_model(
    path: Path | str, model: type[Model], fix_hint: str | Callable[[dict[str, Any]], str]
) -> Model:
    """Read YAML ``path`` into ``model``; a problem raises :class:`ConfigError` naming the first bad field.

    ``fix_hint`` is the advice given with the error, or a function of the pydantic error that returns it.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(
            str(path), "(file)", "the file does not exist", "create it or fix the path"
        ) from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an impossible date such as 1990-13-01
        raise ConfigError(str(path), "(file)", f"it is not valid YAML ({exc})", "fix the syntax") from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "(file)", "it is not a mapping of fields", "start from an existing file")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(file)"
        fix = fix_hint(first) if callable(fix_hint) else fix_hint
        raise ConfigError(str(path), field, _problem(first), fix) from None


def _problem(error: dict[str, Any]) -> str:
    """pydantic's message, with the offending value when it is a single value (not a whole section)."""
    value = error.get("input")
    if error["type"] == "missing" or isinstance(value, dict | list | tuple):
        return error["msg"]
    shown = str(value) if isinstance(value, timedelta) else repr(value)
    return f"{error['msg']} (got {shown})"
