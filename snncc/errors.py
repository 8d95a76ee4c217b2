"""Error types of snncc.

Every error a user can trigger is a :class:`SnnccError` subclass whose message says
what is wrong, where (object, line, column) and how to fix it.
"""

from __future__ import annotations


class SnnccError(Exception):
    """Base class of every error snncc raises on bad input."""


class EquationSyntaxError(SnnccError):
    """An equation, threshold, reset or statement string could not be parsed.

    The message names the 1-based ``line`` and ``column`` and what was expected, and
    shows the offending line with a caret under the column.
    """

    def __init__(self, message: str, *, source: str = "", line: int = 1, column: int = 1,
                 expected: str | None = None, where: str | None = None) -> None:
        self.line = line
        self.column = column
        self.expected = expected
        self.source = source
        self.where = where
        self.bare_message = message
        lines = source.splitlines() or [""]
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        head = f"{where}: " if where else ""
        msg = f"{head}line {line}, column {column}: {message}"
        if expected:
            msg += f" (expected {expected})"
        if text:
            msg += f"\n    {text}\n    {' ' * (column - 1)}^"
        super().__init__(msg)


class UnitError(SnnccError):
    """Dimensions do not match (e.g. adding volt to amp), or a unit is unknown."""


class UnknownNameError(SnnccError):
    """An expression or statement uses a name that is neither a variable, a parameter,
    a unit nor a known function."""


class ShapeError(SnnccError):
    """An array has the wrong shape for the object it is given to."""


class ParameterError(SnnccError):
    """A parameter value is impossible (negative size, dt <= 0, missing value, ...)."""


class ModelError(SnnccError):
    """A model definition is inconsistent (bad flag, duplicate variable, ...)."""


class IntegrationError(SnnccError):
    """The requested integration method cannot integrate the given equations."""


class NetworkError(SnnccError):
    """The network is built wrongly (object outside a network, mixed networks, ...)."""


class BackendError(SnnccError):
    """A backend cannot run this network here (a missing package, a device it does not
    support, or a statement it cannot execute); the message names the alternative."""


class ConfigError(SnnccError):
    """A YAML/JSON network description is wrong (an unknown key, a bad value, a missing
    file) or a network cannot be written as one; the message names the config path
    (e.g. ``groups.P.params.tau``) and the fix."""


class DataError(SnnccError):
    """A data set cannot be loaded (a missing file, a corrupt or truncated IDX file,
    images and labels that do not match, a missing optional package)."""
