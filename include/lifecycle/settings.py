"""Loading analyst-editable YAML settings into pydantic models, with errors that name file, field and fix."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from lifecycle.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


def load_model(path: Path | str, model: type[Model], fix_hint: str) -> Model:
    """Read YAML ``path`` into ``model``; a problem raises :class:`ConfigError` naming the first bad field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(
            str(path), "(file)", "the file does not exist", "create it or fix the path"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "(file)", f"it is not valid YAML ({exc})", "fix the syntax") from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "(file)", "it is not a mapping of settings", fix_hint)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(file)"
        raise ConfigError(str(path), field, first["msg"], fix_hint) from None
