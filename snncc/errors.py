"""Error types of snncc.

Every error a user can trigger is a :class:`SnnccError` subclass whose message says
what is wrong, where (object, line, column) and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable


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


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" (did you mean 'a' or 'b'?)"`` for the known names closest to ``name``, or
    ``""`` when none is close."""
    import difflib

    close = difflib.get_close_matches(str(name), sorted({str(k) for k in known}), n=3)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)"


def unknown_name(where: str, what: str, name: str, known: Iterable[str],
                 kind: type[SnnccError] = UnknownNameError, fix: str = "") -> SnnccError:
    """The one error for a name that is not one of ``known``: ``where`` names the object,
    ``what`` the kind of name (``"parameter"``), ``fix`` what else to do; the message
    lists the closest known names and all of them."""
    names = sorted({str(k) for k in known})
    listed = ", ".join(names) if names else "none"
    tail = f"; {fix}" if fix else ""
    return kind(f"{where}: unknown {what} {name!r}{did_you_mean(name, names)}; known "
                f"{what}s: {listed}{tail}")


def check_names(where: str, what: str, given: Iterable[str], known: Iterable[str],
                kind: type[SnnccError] = UnknownNameError, fix: str = "") -> None:
    """Raise :func:`unknown_name` for the first of ``given`` that is not in ``known``."""
    known = set(known)
    for name in given:
        if name not in known:
            raise unknown_name(where, what, name, known, kind, fix)


class NonFiniteError(SnnccError):
    """A state variable became inf or NaN during a run (an unstable equation, ``log`` or
    ``sqrt`` of a negative value, a division by zero, too large a ``dt``). The message
    names the group, the variable and the steps (and times) in which it happened; the run
    stops at the end of those steps, with time, state and monitors agreeing there.
    ``net.compile(..., check_finite=False)`` (or ``sim.check_finite = False``) turns the
    check off."""
