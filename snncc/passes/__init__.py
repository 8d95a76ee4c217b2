"""Passes: pure functions IR -> IR.

The pipeline (:func:`run_passes`): ``specialize`` (fold constants and dt) -> ``prune``
(dead-state elimination) -> ``integrate`` (ODEs to update statements) -> ``cse`` ->
``schedule`` (the population order of the ``"layered"`` schedule; nothing to do under
``"brian2"``, so it is not listed there).
"""

from __future__ import annotations

from snncc.ir import program as ir
from snncc.passes.integrate import integrate
from snncc.passes.schedule import schedule
from snncc.passes.simplify import cse, prune
from snncc.passes.specialize import specialize


def run_passes(program: ir.Program, method: str | None = None) -> ir.Program:
    """The standard pipeline; ``method`` forces one integrator for every population."""
    program = specialize(program)
    program = prune(program)
    program = integrate(program, method=method)
    program = cse(program)
    return schedule(program)


__all__ = ["cse", "integrate", "prune", "run_passes", "schedule", "specialize"]
