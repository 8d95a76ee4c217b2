"""layer: a population's per-step code as the step map of a multi-step layer.

Input: one integrated population (after ``specialize``, ``prune``, ``integrate`` and
``cse``) whose input variable and tensor parameters were kept as variables. Output: a
:class:`~snncc.ir.layer.LayerStep`: the update writes ``_h_x`` for every state ``x``, the
threshold becomes a distance ``g`` (spike iff ``g > 0``), the reset becomes one
expression per changed state, and time-based refractoriness a period in steps.
"""

from __future__ import annotations

import numpy as np
import sympy

from snncc.errors import ModelError
from snncc.ir import program as ir
from snncc.ir.functions import is_random
from snncc.ir.layer import LayerStep, LayerTensor, h
from snncc.ir.statements import Statement


def _sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


def threshold_distance(cond: sympy.Basic, owner: str) -> tuple[sympy.Expr, bool]:
    """``(g, strict)`` such that the condition is ``g > 0`` (``g >= 0`` if not strict)."""
    if isinstance(cond, (sympy.StrictGreaterThan, sympy.GreaterThan)):
        return cond.lhs - cond.rhs, isinstance(cond, sympy.StrictGreaterThan)
    if isinstance(cond, (sympy.StrictLessThan, sympy.LessThan)):
        return cond.rhs - cond.lhs, isinstance(cond, sympy.StrictLessThan)
    raise ModelError(f"{owner}: a layer needs a threshold that is one comparison such as "
                     f"'v > Vt' (its surrogate gradient acts on the distance v - Vt); got "
                     f"'{cond}'")


def layer_step(pop: ir.Population, *, input: str, tensors: dict[str, LayerTensor],
               dt: float, owner: str) -> LayerStep:
    """The :class:`LayerStep` of ``pop`` (see module docstring). ``dt`` is the step in the
    model's time unit."""
    if pop.threshold is None:
        raise ModelError(f"{owner}: a layer needs a threshold (the layer's output is its "
                         "spikes); give threshold='v > ...'")
    if pop.constant_over_dt:
        raise ModelError(f"{owner}: the subexpressions {', '.join(pop.constant_over_dt)} are "
                         "flagged (constant over dt), which layers do not support; remove the "
                         "flag (they are then evaluated where they are used) or simulate the "
                         "model in a Network")
    states = tuple(o.name for o in pop.odes)
    if not states:
        raise ModelError(f"{owner}: the model has no differential equation, so there is no "
                         "state to carry from step to step")
    # an input that drives a state variable is added to it at the start of the step (as
    # a synaptic increment would be): x -> x + _in in the update
    jump: dict[sympy.Symbol, sympy.Expr] = {}
    jumped = input if input in states else None
    if input in states:
        jump = {_sym(input): _sym(input) + _sym("_in")}
        input = "_in"
    # the update: "x = e" commits become "_h_x = e"; temporaries stay
    update: list[Statement] = []
    committed = set()
    for st in pop.update:
        st = Statement(st.target, st.op, st.expr.xreplace(jump), st.comment)
        if is_random(st.expr):
            raise ModelError(f"{owner}: the model draws random numbers ({st.comment or st}); "
                             "layers are deterministic (their backward replays the forward), "
                             "so noise (xi, rand(), randn()) is not supported in a layer")
        if st.target in states:
            update.append(Statement(h(st.target), "=", st.expr, st.comment))
            committed.add(st.target)
        else:
            update.append(st)
    for x in states:  # a state without update (dx/dt = 0) keeps its value
        if x not in committed:
            update.append(Statement(h(x), "=", _sym(x), f"d{x}/dt = 0"))
    after = {_sym(x): _sym(h(x)) for x in states}
    g, strict = threshold_distance(pop.threshold, owner)
    g = g.xreplace(after)
    env: dict[sympy.Symbol, sympy.Expr] = dict(after)
    for st in pop.reset:
        a = st.as_assignment()
        if a.target not in states:
            raise ModelError(f"{owner}: the reset writes '{a.target}', which is not a state "
                             "variable of the layer; declare it with a differential equation "
                             f"('d{a.target}/dt = 0 : <unit>') so it is carried between steps")
        env[_sym(a.target)] = a.expr.xreplace(env)
    reset = {x: env[_sym(x)] for x in states if env[_sym(x)] != _sym(h(x))}
    steps = ir.refractory_steps(pop.refractory)
    condition = None if pop.refractory is None or steps is not None else pop.refractory
    # every name must be something the layer provides
    known = set(states) | {h(x) for x in states} | {input} | set(tensors) | {"_nr"}
    known |= {st.target for st in update}
    used: set[str] = set()
    for st in update:
        used |= {s.name for s in st.expr.free_symbols}
    for e in [g, *reset.values(), condition]:
        if e is not None:
            used |= {s.name for s in e.free_symbols}
    unknown = sorted(used - known)
    if unknown:
        raise ModelError(f"{owner}: a layer cannot provide {', '.join(map(repr, unknown))} "
                         "(time t, the neuron index i and lastspike are network notions); "
                         "rewrite the model without them")
    init = {}
    for x in states:
        val = np.asarray(pop.variables[x].init, dtype=np.float64)
        if val.ndim and not np.all(val == val.reshape(-1)[0]):
            raise ModelError(f"{owner}: the initial value of '{x}' differs between neurons; "
                             "a layer starts every neuron from one value (pass a state to "
                             "the functional form for anything else)")
        init[x] = float(val.reshape(-1)[0]) if val.size else 0.0
    reset_text = "; ".join(s.comment or str(s) for s in pop.reset)
    unless = tuple(x for x in pop.unless_refractory if x in states)
    hold = {jumped: _sym(jumped) + _sym("_in")} if jumped in pop.unless_refractory else {}
    aux, gate, holds, aux_reset = _refractory(steps, condition, unless, hold)
    return LayerStep(
        name=pop.name, model_name=pop.model_name, equations_text=pop.equations_text,
        threshold_text=pop.threshold_text, reset_text=reset_text,
        method_used=pop.method_used or "-", states=states, init=init, input=input,
        tensors=dict(tensors), update=update, threshold_arg=g, strict=strict, reset=reset,
        unless_refractory=unless, hold=hold, refractory_steps=steps,
        refractory_condition=condition, dt=dt, aux=aux, gate=gate, holds=holds,
        aux_reset=aux_reset)


def _refractory(steps: int | None, condition: sympy.Expr | None, unless: tuple[str, ...],
                hold: dict[str, sympy.Expr]) -> tuple[dict[str, float], list[Statement],
                                                      list[Statement], dict[str, sympy.Expr]]:
    """A layer's refractoriness as statements: (bookkeeping states with their initial
    values, the gate computing them and the not-refractory mask ``_nr`` before the update,
    the holds of the (unless refractory) states after it, the bookkeeping states' values
    where the neuron spiked). An absolute period of K steps counts the steps since the
    last spike in ``_since`` (saturating at K, so a float counter stays exact); a
    condition keeps ``_notref``, set to 1.0 once the condition is false."""
    one, zero = sympy.Float(1.0), sympy.Float(0.0)
    nr = _sym("_nr")
    if steps is not None:
        since, k = _sym("_since"), sympy.Float(float(steps))
        aux = {"_since": float(steps)}
        gate = [Statement("_since", "=", sympy.Min(since + one, k),
                          f"refractory for {steps} steps after a spike"),
                Statement("_nr", "=", sympy.Piecewise((one, sympy.Ge(since, k)), (zero, True)),
                          "1.0 where the neuron may spike")]
        reset = {"_since": zero}
    elif condition is not None:
        notref = _sym("_notref")
        aux = {"_notref": 1.0}
        gate = [Statement("_notref", "=", sympy.Piecewise((notref, condition), (one, True)),
                          "refractory until the condition releases the neuron"),
                Statement("_nr", "=", sympy.Piecewise((one, notref > 0.5), (zero, True)),
                          "1.0 where the neuron may spike")]
        reset = {"_notref": zero}
    else:
        return {}, [], [], {}
    holds = [Statement(h(x), "=", sympy.Piecewise((_sym(h(x)), nr > 0.5),
                                                  (hold.get(x, _sym(x)), True)),
                       f"{x} is clamped while refractory") for x in unless]
    return aux, gate, holds, reset


__all__ = ["layer_step", "threshold_distance"]
