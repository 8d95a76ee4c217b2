"""Finite code: after the specialize pass has folded the parameters in, no expression may
be undefined (nan, a division by zero) or infinite in arithmetic; such code would run
and fill the state with nan or inf. :func:`check_finite` refuses it, naming the group or
connection, the statement and the parameter values that caused it."""

from __future__ import annotations

import numpy as np
import sympy

from snncc.errors import ParameterError
from snncc.ir import program as ir
from snncc.ir.functions import clip
from snncc.ir.statements import Statement


def _infinite(e: object) -> bool:
    """``e`` is ±oo, or a sympy Float beyond the double range (inf in generated code)."""
    return (e is sympy.oo or e is sympy.S.NegativeInfinity
            or (isinstance(e, sympy.Float) and not np.isfinite(float(e))))


def non_finite(e: object) -> str | None:
    """``"undefined"`` if ``e`` holds nan or a division by zero (``zoo``), ``"infinite"``
    if it holds an infinity other than a bound of clip/min/max or a side of a comparison
    (``v > inf`` and ``clip(x, -inf, c)`` are meaningful), else None."""
    if e is sympy.nan or e is sympy.zoo:
        return "undefined"
    if _infinite(e):
        return "infinite"
    bound = isinstance(e, (clip, sympy.Min, sympy.Max, sympy.core.relational.Relational))
    found = [non_finite(a) for a in getattr(e, "args", ()) if not (bound and _infinite(a))]
    return "undefined" if "undefined" in found else "infinite" if "infinite" in found else None


def _parts(old: ir.Population | ir.Projection, new: ir.Population | ir.Projection
           ) -> list[tuple[str, sympy.Basic, sympy.Basic]]:
    """(what, expression before folding, after) for every expression of an object."""
    def stmts(name: str, a: list[Statement], b: list[Statement]) -> list:
        return [(f"{name} '{x.comment or x}'", x.as_assignment().expr, y.as_assignment().expr)
                for x, y in zip(a, b)]

    out = [(f"equation '{o.text}'", o.rhs, n.rhs) for o, n in zip(old.odes, new.odes)]
    if isinstance(old, ir.Population) and isinstance(new, ir.Population):
        out += [(f"subexpression '{k}'", e, new.subexpressions[k])
                for k, e in old.subexpressions.items()]
        out += stmts("state update", old.update, new.update)
        out += stmts("reset", old.reset, new.reset)
        out += [(w, a, b) for w, a, b in (
            (f"threshold '{old.threshold_text}'", old.threshold, new.threshold),
            (f"refractory condition '{old.refractory_text}'", old.refractory, new.refractory),
            ("rates", old.rates, new.rates)) if a is not None]
    elif isinstance(old, ir.Projection) and isinstance(new, ir.Projection):
        out += stmts("on_pre", old.on_pre, new.on_pre)
        out += stmts("on_post", old.on_post, new.on_post)
        out += stmts("event-driven update", old.update, new.update)
        out += [(f"equation '{o.text}'", o.rhs, n.rhs)
                for o, n in zip(old.clock_odes, new.clock_odes)]
        out += stmts("clock-driven update", old.clock_update, new.clock_update)
    return out


def check_finite(before: ir.Program, after: ir.Program) -> None:
    """Refuse an expression that is undefined or infinite once the parameters are folded
    in (a parameter 0 as a divisor, an infinite parameter in arithmetic, ``v /= 0``):
    the message names the group or connection, the statement and its parameters."""
    objs = [("group", before.populations[k], p) for k, p in after.populations.items()]
    objs += [("connection", before.projections[k], p) for k, p in after.projections.items()]
    for kind, old, new in objs:
        for what, e0, e1 in _parts(old, new):
            problem = non_finite(e1)
            if problem is None:
                continue
            values = dict(new.constants, dt=after.dt * new.time_scale)
            if isinstance(new, ir.Projection):
                for side, pop in (("pre", new.pre), ("post", new.post)):
                    values |= {f"{k}_{side}": v
                               for k, v in after.populations[pop].constants.items()}
            used = {s.name: values[s.name] for s in e0.free_symbols if s.name in values}
            odd = {k: v for k, v in used.items() if v == 0 or not np.isfinite(v)} or used
            given = ", ".join(f"{k} = {v:g}" for k, v in sorted(odd.items()))
            raise ParameterError(
                f"{kind} '{new.name}': the {what} is {problem} "
                + (f"with the parameter values {given}; give values that keep it finite "
                   "(a nonzero divisor, finite parameters)" if given else
                   "(a division by zero or an overflow); rewrite it"))
