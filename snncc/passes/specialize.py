"""specialize: fold constants into the code.

Shared parameters and per-element parameters that hold one value and are never written
become numbers in every expression (they are compile-time constants of the kernels), and
``dt`` becomes the step size in the model's time unit. Per-element values stay variables.
"""

from __future__ import annotations

import numpy as np
import sympy

from snncc.ir import program as ir
from snncc.ir.statements import Statement
from snncc.passes.finite import check_finite


def written_variables(program: ir.Program) -> dict[str, set[str]]:
    """Population name -> variables written by resets, synaptic event code or Poisson
    inputs."""
    out: dict[str, set[str]] = {p: set() for p in program.populations}
    for p in program.populations.values():
        out[p.name] |= {s.target for s in p.reset}
    for pr in program.projections.values():
        for st in [*pr.on_pre, *pr.on_post]:
            if st.target.endswith("_post"):
                out[pr.post].add(st.target[:-5])
            elif st.target.endswith("_pre"):
                out[pr.pre].add(st.target[:-4])
    for inp in program.inputs.values():
        out[inp.target].add(inp.variable)
    return out


def _fold(e: sympy.Expr, values: dict[sympy.Symbol, sympy.Expr]) -> sympy.Expr:
    """``e`` with the constants substituted; sympy raises on ``Mod(v, 0)`` while it
    builds the result: that becomes nan, which :func:`check_finite` reports (naming the
    object, the statement and the parameter values)."""
    try:
        return e.xreplace(values)
    except ZeroDivisionError:
        return sympy.nan


def _subs(e: sympy.Expr | None, values: dict[sympy.Symbol, sympy.Expr]) -> sympy.Expr | None:
    return None if e is None else _fold(e, values)


def _stmts(sts: list[Statement], values: dict) -> list[Statement]:
    return [Statement(s.target, s.op, _fold(s.expr, values), s.comment) for s in sts]


def specialize(program: ir.Program) -> ir.Program:
    """Fold constants and ``dt`` (see module docstring)."""
    written = written_variables(program)
    monitored: dict[str, set[str]] = {p: set() for p in program.populations}
    for m in program.monitors.values():
        monitored[m.target] |= set(m.variables)
    pops: dict[str, ir.Population] = {}
    folded_names: dict[str, dict[str, float]] = {}
    for p in program.populations.values():
        constants = dict(p.constants)
        variables = {}
        for k, v in p.variables.items():
            foldable = (v.kind == "param" and np.ndim(v.init) == 0 and k not in written[p.name]
                        and k not in monitored[p.name])
            if foldable:
                constants[k] = float(v.init)  # type: ignore[arg-type]
            else:
                variables[k] = v
        folded_names[p.name] = {k: constants[k] for k in constants}
        values = {sympy.Symbol(k, real=True): sympy.Float(v) for k, v in constants.items()}
        values[sympy.Symbol("dt", real=True)] = sympy.Float(program.dt * p.time_scale)
        pops[p.name] = p.with_(
            variables=variables, constants=constants,
            odes=[ir.ODE(o.name, _fold(o.rhs, values), o.text) for o in p.odes],
            subexpressions={k: _fold(e, values) for k, e in p.subexpressions.items()},
            constant_over_dt={k: _fold(e, values) for k, e in p.constant_over_dt.items()},
            threshold=_subs(p.threshold, values), reset=_stmts(p.reset, values),
            refractory=_subs(p.refractory, values), rates=_subs(p.rates, values),
            update=_stmts(p.update, values))
    projs: dict[str, ir.Projection] = {}
    for pr in program.projections.values():
        values = {sympy.Symbol(k, real=True): sympy.Float(v) for k, v in pr.constants.items()}
        values[sympy.Symbol("dt", real=True)] = sympy.Float(program.dt * pr.time_scale)
        for side, pop in (("pre", pr.pre), ("post", pr.post)):
            for k, v in folded_names[pop].items():
                values[sympy.Symbol(f"{k}_{side}", real=True)] = sympy.Float(v)
        variables = {}
        constants = dict(pr.constants)
        syn_written = {s.target for s in [*pr.on_pre, *pr.on_post]}
        for k, v in pr.variables.items():
            if v.kind == "param" and np.ndim(v.init) == 0 and k not in syn_written:
                constants[k] = float(v.init)  # type: ignore[arg-type]
                values[sympy.Symbol(k, real=True)] = sympy.Float(v.init)  # type: ignore
            else:
                variables[k] = v
        projs[pr.name] = pr.with_(variables=variables, constants=constants,
                                  on_pre=_stmts(pr.on_pre, values),
                                  on_post=_stmts(pr.on_post, values),
                                  odes=[ir.ODE(o.name, _fold(o.rhs, values), o.text)
                                        for o in pr.odes],
                                  update=_stmts(pr.update, values),
                                  clock_odes=[ir.ODE(o.name, _fold(o.rhs, values), o.text)
                                              for o in pr.clock_odes],
                                  clock_update=_stmts(pr.clock_update, values))
    out = program.with_(populations=pops, projections=projs,
                        passes=[*program.passes, "specialize"])
    check_finite(program, out)
    return out

