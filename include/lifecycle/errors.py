"""Errors that name what is wrong and where, so a user can fix the input without reading code."""


class LifecycleError(Exception):
    """Base class for the project's own errors."""


class ConfigError(LifecycleError):
    """A configuration or SQL file is wrong; the message names the file, the field and the fix."""

    def __init__(self, file: str, field: str, problem: str, fix: str):
        self.file, self.field, self.problem, self.fix = file, field, problem, fix
        super().__init__(f"{file}: field '{field}': {problem}. Fix: {fix}")


class WarehouseError(LifecycleError):
    """The warehouse could not be reached or refused a statement."""
