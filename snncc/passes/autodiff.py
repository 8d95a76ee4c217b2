"""autodiff: the backward of a layer's step map, derived symbolically.

One step (see :mod:`snncc.ir.layer`) maps the state ``x`` and input ``I`` to
``h = F(x, I)`` (state update), the spike ``s = H(g(h)) * nr`` (threshold distance ``g``,
not-refractory mask ``nr``) and the new state ``x' = h + s*(R(h) - h)`` (reset ``R``).
Given the gradients ``_g_s`` of the spike and ``_g_x`` of ``x'``, the chain rule gives

* ``sbar = _g_s + sum_i _g_x_i (R_i - h_i)`` (the second term dropped by ``detach_reset``),
* ``gbar = sbar * S'(g) * nr`` with the surrogate derivative ``S'`` in place of the
  Heaviside's,
* ``hbar_j = sum_i _g_x_i (d_ij + s (dR_i/dh_j - d_ij)) + gbar dg/dh_j``,
* ``_gn_k = sum_j hbar_j dF_j/dx_k``, ``_g_in = sum_j hbar_j dF_j/dI`` and, for each
  trainable parameter, ``_gp_p += sum_j hbar_j dF_j/dp + gbar dg/dp + sum_i _g_x_i s dR_i/dp``.

All derivatives are taken by sympy on the integrated update, so the backward is exact for
whatever integrator produced it. The pass then plans what the forward saves: the
backward's free values are either stored per step (the threshold distance, ``h``, the old
state) or recomputed from the old state and the input; the cheaper plan in bytes per
neuron and step wins.
"""

from __future__ import annotations

import sympy

from snncc.ir import surrogates
from snncc.ir.layer import LayerStep, SavedValue, h
from snncc.ir.statements import Statement


def _sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


def _cse(block: list[Statement], counter: list[int]) -> list[Statement]:
    """Common subexpressions of a block of independent statements as ``_cb<n>``
    temporaries placed before it."""
    if not block:
        return []
    names = sympy.numbered_symbols("_cb", start=counter[0], real=True)
    reps, reduced = sympy.cse([s.expr for s in block], symbols=names, optimizations="basic")
    counter[0] += len(reps)
    out = [Statement(sym.name, "=", e, "common subexpression") for sym, e in reps]
    out += [Statement(s.target, s.op, e, s.comment) for s, e in zip(block, reduced)]
    return out


def autodiff(step: LayerStep, surrogate: str = "sigmoid", alpha: float | None = None,
             detach_reset: bool = False) -> LayerStep:
    """``step`` with its backward and save/recompute plan (see module docstring)."""
    name = surrogates.resolve(surrogate)
    a = surrogates.default_alpha(name) if alpha is None else surrogates.check_alpha(alpha)
    dsur = surrogates.derivative(name, a)
    states = step.states
    X = {x: _sym(x) for x in states}
    H = {x: _sym(h(x)) for x in states}
    inp = _sym(step.input)
    nr = _sym("_nr") if step.refractory else sympy.Integer(1)
    # full update expressions in terms of old states, input and tensors
    env: dict[sympy.Symbol, sympy.Expr] = {}
    for st in step.update:
        env[_sym(st.target)] = st.expr.xreplace(env)
    F = {x: env[H[x]] for x in states}
    Hfull = {x: (nr * F[x] + (1 - nr) * step.held(x)) if x in step.unless_refractory else F[x]
             for x in states}
    G = step.threshold_arg
    R = {x: step.reset.get(x, H[x]) for x in states}
    sg, s = _sym("_sg"), _sym("_s")
    gs = _sym("_g_s")
    gx = {x: _sym(f"_g_{x}") for x in states}
    gsb, gg = _sym("_gsb"), _sym("_gg")
    gh = {x: _sym(f"_gh_{x}") for x in states}
    trainable = step.trainable

    rel = (sg > 0) if step.strict else (sg >= 0)
    spike = sympy.Piecewise((nr, rel), (0, True))
    sbar = gs if detach_reset else gs + sum((gx[i] * (R[i] - H[i]) for i in states),
                                            sympy.Integer(0))
    layers: list[list[Statement]] = [
        [Statement("_s", "=", spike, "the spike, recomputed"),
         Statement("_gsb", "=", sbar, "dL/ds" + (" (reset detached)" if detach_reset else ""))],
        [Statement("_gg", "=", gsb * dsur.xreplace({surrogates.X: sg}) * nr,
                   f"dL/dg, {name} surrogate (alpha = {a:g})")],
        [Statement(gh[j].name, "=", sum((gx[i] * ((1 if i == j else 0) + s * (
            sympy.diff(R[i], H[j]) - (1 if i == j else 0))) for i in states), sympy.Integer(0))
            + gg * sympy.diff(G, H[j]), f"dL/d{h(j)}") for j in states],
    ]
    last = []
    for k in states:
        e = sum((gh[j] * sympy.diff(Hfull[j], X[k]) for j in states), sympy.Integer(0))
        last.append(Statement(f"_gn_{k}", "=", e, f"dL/d{k} before the step"))
    last.append(Statement("_g_in", "=", sum((gh[j] * sympy.diff(Hfull[j], inp)
                                             for j in states), sympy.Integer(0)),
                          f"dL/d{step.input}"))
    for p in trainable:
        ps = _sym(p)
        e = sum((gh[j] * sympy.diff(Hfull[j], ps) for j in states), sympy.Integer(0))
        e += gg * sympy.diff(G, ps)
        e += sum((gx[i] * s * sympy.diff(R[i], ps) for i in states), sympy.Integer(0))
        last.append(Statement(f"_gp_{p}", "+=", e, f"dL/d{p}"))
    layers.append(last)

    # what the backward reads besides gradients and tensors
    free: set[sympy.Symbol] = set()
    for block in layers:
        for st in block:
            free |= st.expr.free_symbols
    need_h = [x for x in states if H[x] in free]
    need_x = [x for x in states if X[x] in free]
    need_in = inp in free
    g_from_h = G.free_symbols & set(H.values())
    saved_nr = [SavedValue("_nr", nr, "not-refractory mask")] if step.refractory else []

    # plan A: store g (unless computable from stored h), the h and old x it needs
    a_saved = [SavedValue(h(x), H[x], f"{x} after the update") for x in need_h]
    a_saved += [SavedValue(x, X[x], f"{x} before the step") for x in need_x]
    a_rec: list[Statement] = []
    if g_from_h <= {H[x] for x in need_h}:
        a_rec.append(Statement("_sg", "=", G, "threshold distance"))
    else:
        a_saved.insert(0, SavedValue("_sg", G, "threshold distance"))
    a_cost = len(a_saved) + int(need_in)
    # plan B: store old x only and recompute h (and g) from it and the input
    h_needed = set(need_h) | {x for x in states if H[x] in g_from_h}
    b_x = set(need_x)
    b_in = need_in
    for x in h_needed:
        b_x |= {k for k in states if X[k] in Hfull[x].free_symbols}
        b_in |= inp in Hfull[x].free_symbols
    b_saved = [SavedValue(x, X[x], f"{x} before the step") for x in states if x in b_x]
    b_rec = []
    for x in states:
        if x in h_needed:
            e = F[x]
            if x in step.unless_refractory:
                e = sympy.Piecewise((F[x], sympy.Symbol("_nr", real=True) > 0.5),
                                    (step.held(x), True))
            b_rec.append(Statement(h(x), "=", e, f"{x} after the update, recomputed"))
    b_rec.append(Statement("_sg", "=", G, "threshold distance"))
    b_cost = len(b_saved) + int(b_in)
    if b_cost < a_cost:
        saved, rec, reads_in, which = b_saved, b_rec, b_in, "recompute"
    else:
        saved, rec, reads_in, which = a_saved, a_rec, need_in, "store"
    saved = saved_nr + saved
    counter = [0]
    backward: list[Statement] = []
    for block in layers:
        backward += _cse(block, counter)
    plan = (f"{which}: the forward stores {', '.join(v.name for v in saved) or 'nothing'} "
            f"per neuron and step ({len(saved)} value{'s' if len(saved) != 1 else ''})"
            + ("; the backward re-reads the input" if reads_in else "")
            + (f"; {'recomputes ' + ', '.join(s.target for s in rec)}" if rec else ""))
    return step.with_(surrogate=name, alpha=a, detach_reset=detach_reset, saved=saved,
                      recompute=rec, backward=backward, backward_reads_input=reads_in,
                      plan=plan)


__all__ = ["autodiff"]
