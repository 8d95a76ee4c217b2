"""Build-time evaluation of expressions (initial values, weights, delays, connection
conditions) on the host with numpy, deterministic under the network's seed."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy

from snncc.errors import ParameterError
from snncc.ir.functions import clip, exprel, rand, randn


def evaluate(expr: sympy.Expr, env: Mapping[str, object], size: int,
             rng: np.random.Generator, what: str) -> np.ndarray:
    """Value of ``expr`` for ``size`` elements, as a float64 array of shape ``(size,)``.

    ``env`` maps symbol names to numbers or arrays of length ``size``; every ``rand()``
    and ``randn()`` draws ``size`` fresh values from ``rng``.
    """
    draws: dict[sympy.Expr, sympy.Symbol] = {}
    values: dict[str, object] = {}
    for k, call in enumerate(sorted(expr.atoms(rand, randn), key=str)):
        s = sympy.Symbol(f"_draw{k}", real=True)
        draws[call] = s
        values[s.name] = rng.random(size) if call.func is rand else rng.standard_normal(size)
    e = expr.xreplace(draws) if draws else expr
    missing = sorted(s.name for s in e.free_symbols if s.name not in env and
                     s.name not in values)
    if missing:
        raise ParameterError(f"{what}: cannot evaluate at build time; unknown "
                             f"{', '.join(missing)}")
    symbols = sorted(e.free_symbols, key=lambda s: s.name)
    args = [values[s.name] if s.name in values else env[s.name] for s in symbols]
    try:
        fn = sympy.lambdify(symbols, e, modules=[{"clip": np.clip, "exprel": _exprel},
                                                 "numpy"])
        with np.errstate(all="ignore"):
            out = np.asarray(fn(*args), dtype=np.float64)
        out = np.broadcast_to(out, (size,)).copy()
    except (ArithmeticError, TypeError, ValueError, NameError, KeyError,
            RecursionError) as exc:  # what numpy or sympy's printer make of absurd input
        raise ParameterError(f"{what}: cannot evaluate {expr} at build time "
                             f"({type(exc).__name__}: {exc})") from None
    if not np.all(np.isfinite(out)):
        raise ParameterError(f"{what}: the expression {expr} gives non-finite values")
    return out


def _exprel(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.where(x == 0, 1.0, np.expm1(x) / np.where(x == 0, 1.0, x))


__all__ = ["evaluate", "clip", "exprel"]
