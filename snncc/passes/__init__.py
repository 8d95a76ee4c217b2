"""Passes: pure functions IR -> IR.

The pipeline (:func:`run_passes`): ``specialize`` (fold constants and dt) -> ``prune``
(dead-state elimination) -> ``integrate`` (ODEs to update statements) -> ``cse``.
"""

from __future__ import annotations

from snncc.ir import program as ir
from snncc.passes.integrate import integrate_odes
from snncc.passes.simplify import cse, prune
from snncc.passes.specialize import specialize


def integrate(program: ir.Program, method: str | None = None) -> ir.Program:
    """ODEs of every population -> update statements (``Population.update``), with the
    method chosen per population (the population's own, else ``method``, else auto)."""
    pops = {}
    for name, p in program.populations.items():
        if not p.odes:
            pops[name] = p
            continue
        stmts, used = integrate_odes(p.odes, method=p.method or method,
                                     dt=program.dt * p.time_scale,
                                     where=f"population '{name}' (model '{p.model_name}')")
        pops[name] = p.with_(update=stmts, method_used=used)
    return program.with_(populations=pops, passes=[*program.passes, "integrate"])


def run_passes(program: ir.Program, method: str | None = None) -> ir.Program:
    """The standard pipeline; ``method`` forces one integrator for every population."""
    program = specialize(program)
    program = prune(program)
    program = integrate(program, method=method)
    return cse(program)


__all__ = ["cse", "integrate", "prune", "run_passes", "specialize"]
