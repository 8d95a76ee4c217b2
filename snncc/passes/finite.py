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


def code_of(obj: ir.Population | ir.Projection) -> list[tuple[str, sympy.Basic]]:
    """(what, expression) of every piece of code the backends print for ``obj``: the
    threshold, refractory condition, rates, reset and state update of a group; the
    ``on_pre``/``on_post`` code and the event- and clock-driven updates of a connection."""
    def stmts(name: str, sts: list[Statement]) -> list[tuple[str, sympy.Basic]]:
        return [(f"{name} '{x.comment or x}'", x.as_assignment().expr) for x in sts]

    if isinstance(obj, ir.Population):
        out = [(w, e) for w, e in (
            (f"threshold '{obj.threshold_text}'", obj.threshold),
            (f"refractory condition '{obj.refractory_text}'", obj.refractory),
            ("rates", obj.rates)) if e is not None]
        return out + stmts("reset", obj.reset) + stmts("state update", obj.update)
    return (stmts("on_pre", obj.on_pre) + stmts("on_post", obj.on_post)
            + stmts("event-driven update", obj.update)
            + stmts("clock-driven update", obj.clock_update))


def _parts(obj: ir.Population | ir.Projection) -> list[tuple[str, sympy.Basic]]:
    """(what, expression) for every expression of an object: its equations and its
    code (:func:`code_of`)."""
    out = [(f"equation '{o.text}'", o.rhs) for o in obj.odes]
    if isinstance(obj, ir.Population):
        out += [(f"subexpression '{k}'", e) for k, e in obj.subexpressions.items()]
    else:
        out += [(f"equation '{o.text}'", o.rhs) for o in obj.clock_odes]
    return out + code_of(obj)


def check_finite(before: ir.Program, after: ir.Program) -> None:
    """Refuse an expression that is undefined or infinite once the parameters are folded
    in (a parameter 0 as a divisor, an infinite parameter in arithmetic, ``v /= 0``):
    the message names the group or connection, the statement and its parameters."""
    objs = [("group", before.populations[k], p) for k, p in after.populations.items()]
    objs += [("connection", before.projections[k], p) for k, p in after.projections.items()]
    for kind, old, new in objs:
        for (what, e0), (_, e1) in zip(_parts(old), _parts(new), strict=True):
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


def number_beyond(program: ir.Program, limit: float) -> str | None:
    """Where the code of ``program`` holds a number larger than ``limit`` in magnitude
    (e.g. 1e300 does not fit a float32: it would become inf, or make torch raise), as
    "group 'G' reset 'v = 1e300': 1e+300"; None if there is none."""
    objs = [("group", p) for p in program.populations.values()]
    objs += [("connection", pr) for pr in program.projections.values()]
    for kind, obj in objs:
        for what, e in code_of(obj):
            for a in e.atoms(sympy.Float, sympy.Integer):
                if abs(float(a)) > limit:
                    return f"{kind} '{obj.name}' {what}: {float(a):g}"
    return None
