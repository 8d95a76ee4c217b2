"""Passes: pure functions IR -> IR.

The pipeline of a network (:func:`run_passes`): :func:`optimize` -- ``specialize`` (fold
constants and dt) -> ``prune`` (dead-state elimination) -> ``integrate`` (ODEs to update
statements) -> ``cse``, the part layers share -- then ``refractory`` (refractoriness as
statements) -> ``schedule`` (the population order of the ``"layered"`` schedule; nothing to do under
``"brian2"``, so it is not listed there) -> ``plan`` (the ordered stages of a step, which
every backend renders).
"""

from __future__ import annotations

from snncc.ir import program as ir
from snncc.passes.integrate import integrate
from snncc.passes.plan import plan
from snncc.passes.refractory import refractory
from snncc.passes.schedule import schedule
from snncc.passes.simplify import cse, prune
from snncc.passes.specialize import specialize


def optimize(program: ir.Program, method: str | None = None) -> ir.Program:
    """specialize -> prune -> integrate -> cse; ``method`` forces one integrator for every
    population."""
    program = specialize(program)
    program = prune(program)
    program = integrate(program, method=method)
    return cse(program)


def run_passes(program: ir.Program, method: str | None = None) -> ir.Program:
    """The pipeline of a network: :func:`optimize`, then refractory -> schedule -> plan."""
    return plan(schedule(refractory(optimize(program, method))))


__all__ = ["cse", "integrate", "optimize", "plan", "prune", "refractory", "run_passes",
           "schedule", "specialize"]
