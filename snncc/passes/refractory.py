"""refractory: refractoriness as ordinary IR statements (as Brian2 lowers it to code), so
that no backend implements it.

A neuron population with a refractory condition (``Population.refractory``, "is
refractory") gets:

* at the start of its state update, the temporary ``_not_refractory``: for time-based
  refractoriness (``_n - lastspike < K``) ``_n - lastspike >= K``; for a condition, the
  stored flag ``not_refractory`` released once the condition is false
  (``not_refractory | ~condition``, committed back to the flag with the state);
* the updates of its ``(unless refractory)`` variables committed only where it is not
  refractory (``x = where(_not_refractory, x_new, x)``);
* its threshold and'ed with ``_not_refractory`` (a refractory neuron does not spike);
* in its reset, ``lastspike = _n`` (steps) and ``not_refractory = False``.

``_not_refractory`` is computed by the state update and read by the threshold, a later
stage of the step: it is listed in ``Population.carried``. ``lastspike`` and the flag are
also set by the reset of populations without a refractory period when the model declares
them (a model that reads ``lastspike``). Layers (:mod:`snncc.passes.layer`) keep their
own refractory counters and do not run this pass.
"""

from __future__ import annotations

import sympy

from snncc.ir import program as ir
from snncc.ir.statements import Statement

FLAG = "_not_refractory"  # the temporary "is not refractory" of this step


def _sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


def _lower(pop: ir.Population) -> ir.Population:
    flag = _sym(FLAG)
    update: list[Statement] = []
    commits: list[Statement] = []
    carried: tuple[str, ...] = ()
    threshold = pop.threshold
    if pop.refractory is not None:
        k = ir.refractory_steps(pop.refractory)
        comment = f"refractory: {pop.refractory_text}"
        if k is not None and "lastspike" in pop.variables:
            # steps since the last spike, an exact integer difference (a float-valued
            # "lastspike <= n - K" would round once n exceeds 2**24 in float32 kernels)
            update.append(Statement(FLAG, "=", sympy.Ge(_sym("_n") - _sym("lastspike"), k),
                                    comment))
        else:
            update.append(Statement(FLAG, "=", sympy.Or(_sym("not_refractory"),
                                                        sympy.Not(pop.refractory)), comment))
            commits.append(Statement("not_refractory", "=", flag,
                                     "released once the refractory condition is false"))
        carried = (FLAG,)
        if threshold is not None:
            threshold = sympy.And(threshold, flag)
    for st in pop.update:
        if st.target in pop.unless_refractory and pop.refractory is not None:
            x = _sym(st.target)
            comment = st.comment if "unless refractory" in st.comment else \
                f"{st.comment} (unless refractory)".strip()
            st = Statement(st.target, "=", sympy.Piecewise((st.expr, flag), (x, True)),
                           comment)
        update.append(st)
    reset = list(pop.reset)
    if pop.threshold is not None:
        if "lastspike" in pop.variables:
            reset.append(Statement("lastspike", "=", _sym("_n"), "lastspike = t (in steps)"))
        if "not_refractory" in pop.variables:
            reset.append(Statement("not_refractory", "=", sympy.false,
                                   "refractory from now on"))
    return pop.with_(update=update + commits, threshold=threshold, reset=reset,
                     carried=carried, refractory_lowered=True)


def refractory(program: ir.Program) -> ir.Program:
    """Lower the refractoriness of every neuron population to statements."""
    pops = {name: _lower(pop) if pop.kind == "neuron" and not pop.refractory_lowered
            else pop for name, pop in program.populations.items()}
    return program.with_(populations=pops, passes=[*program.passes, "refractory"])
