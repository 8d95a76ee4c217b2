"""Quantities in configs: ``"20*mV"``, ``"[1, 2]*ms"`` read, and values written as the
shortest text that reads back exactly."""

from __future__ import annotations

import ast
import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from snncc.errors import ConfigError, SnnccError
from snncc.units import (
    DIMENSIONLESS,
    Dimension,
    Quantity,
    get_dimension,
    get_value,
    unit_namespace,
)

_UNITS = unit_namespace()
_TIME = Dimension(s=1)
# preferred units for writing values, most preferred first
_PREFERRED = ("ms", "us", "ns", "second", "mV", "uV", "volt", "nA", "pA", "uA", "mA", "amp",
              "nS", "uS", "mS", "siemens", "pF", "nF", "uF", "farad", "Hz", "kHz", "ohm",
              "kohm", "Mohm", "Gohm", "um", "mm", "cm", "metre", "mM", "uM")


class _NotLiteral(Exception):
    """The text is not a plain quantity literal (numbers, units, + - * / **, lists)."""


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _literal(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _UNITS:
            return _UNITS[node.id]
        if node.id in ("inf", "nan"):
            return float(node.id)
        raise _NotLiteral(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        x = _literal(node.operand)
        return -x if isinstance(node.op, ast.USub) else +x
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult,
                                                            ast.Div, ast.Pow)):
        a, b = _literal(node.left), _literal(node.right)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if isinstance(node.op, ast.Div):
            return a / b
        # as floats: Python computes 10**10**10 exactly on ints, which never ends
        return (float(a) if isinstance(a, int) else a) ** b
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(e) for e in node.elts]
        dim = get_dimension(items) if items else DIMENSIONLESS
        arr = np.asarray([get_value(x) for x in items], dtype=np.float64)
        return arr if dim.is_dimensionless else Quantity(arr, dim)
    raise _NotLiteral(type(node).__name__)


def _try_quantity(text: str) -> Any:
    """The value of a quantity literal, or ``_NotLiteral`` raised for anything else."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        raise _NotLiteral(text) from None
    try:
        value = _literal(tree)
    except (ZeroDivisionError, OverflowError, TypeError, ValueError, RecursionError) as e:
        raise ConfigError(f"cannot be evaluated: {e}") from None
    if isinstance(value, Quantity):
        return Quantity(value.value, value.dim)  # a Unit becomes a plain Quantity
    if isinstance(value, np.ndarray):
        return value
    return float(value)


def parse_quantity(text: str, path: str = "value") -> float | np.ndarray | Quantity:
    """The value of a quantity string such as ``"20*mV"``, ``"0.5"`` or ``"[1, 2]*ms"``
    (a float or array when dimensionless). ``path`` names the value in errors."""
    if not isinstance(text, str):
        raise ConfigError(f"{path}: expected a quantity string such as '20*mV', got "
                          f"{text!r}")
    try:
        return _try_quantity(text)
    except _NotLiteral:
        raise ConfigError(f"{path}: {text!r} is not a quantity; write a number times a unit, "
                          "e.g. '20*mV', '0.1*ms', '15*Hz' or '[1, 2]*ms'") from None
    except SnnccError as e:
        raise ConfigError(f"{path}: {text!r}: {e}") from None


def _unit_text(dim: Dimension) -> tuple[str, float]:
    """The SI unit of ``dim`` as text that evaluates to scale 1.0."""
    text = str(dim)
    value = _try_quantity(text)
    if get_dimension(value) != dim or get_value(value) != 1.0:  # pragma: no cover
        raise ConfigError(f"cannot write a unit for dimension {dim!r}")
    return text, 1.0


def _candidates(dim: Dimension) -> list[tuple[str, float]]:
    out = [(n, float(_UNITS[n].value)) for n in _PREFERRED if _UNITS[n].dim == dim]
    si = _unit_text(dim)
    if si[0] not in [n for n, _ in out]:
        out.append(si)
    return out


def _short(x: float, exact: Callable[[float], bool]) -> str | None:
    """The shortest decimal text of about ``x`` that is ``exact``."""
    for p in range(1, 18):
        f = float(f"{x:.{p}g}")
        if exact(f):
            text = repr(f)
            return text[:-2] if text.endswith(".0") else text
    return None


def format_quantity(value: float | Quantity) -> str | float:
    """A scalar as written in a config: ``0.02*second`` -> ``"20*ms"`` (the shortest text
    that reads back exactly, in a common unit); a plain number stays a number."""
    if not isinstance(value, Quantity):
        return float(value)
    v = float(value.value)
    if not math.isfinite(v):
        return f"{v}*{_unit_text(value.dim)[0]}"
    best: tuple[int, int, str] | None = None
    for rank, (name, scale) in enumerate(_candidates(value.dim)):
        s = _short(v / scale, lambda f, scale=scale: f * scale == v)
        if s is not None and (best is None or (len(s), rank) < best[:2]):
            best = (len(s), rank, f"{s}*{name}")
    if best is None:  # pragma: no cover - the SI unit always reads back exactly
        raise ConfigError(f"cannot write {value} exactly")
    return best[2]


def _array_unit(arr: np.ndarray, dim: Dimension) -> tuple[str, np.ndarray]:
    """(unit, values in it) reading back exactly with ``values * scale``."""
    for name, scale in _candidates(dim):
        vals = np.asarray((arr / scale).tolist(), dtype=np.float64)
        if np.array_equal(vals * scale, arr, equal_nan=True):
            return name, vals
    raise ConfigError(f"cannot write an array of {dim} exactly")  # pragma: no cover


def _is_number(x: object) -> bool:
    return isinstance(x, (numbers.Real, np.integer, np.floating)) and not isinstance(
        x, (bool, np.bool_))
