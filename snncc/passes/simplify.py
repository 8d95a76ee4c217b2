"""simplify: common-subexpression elimination and dead-state elimination.

* CSE: repeated subexpressions of a population's update (and of a projection's
  clock-driven update) are computed once, into temporaries ``_cse0, _cse1, ...``
  (sympy's ``cse``).
* Dead state: a state variable that influences nothing observable (spikes, resets,
  refractoriness, monitors, synaptic event code or clock-driven synaptic equations, or
  another live variable) is not updated and not stored. It is listed in
  ``Population.removed`` and reported by ``describe()``.
"""

from __future__ import annotations

import sympy

from snncc.ir import program as ir
from snncc.ir.statements import Statement


def _names(e: sympy.Expr | None) -> set[str]:
    if e is None:
        return set()
    return {s.name for s in e.free_symbols}


def live_variables(p: ir.Population, program: ir.Program) -> set[str]:
    """Variables of ``p`` whose values matter to something observable."""
    roots: set[str] = set()
    roots |= _names(p.threshold) | _names(p.refractory) | _names(p.rates)
    for e in p.constant_over_dt.values():  # computed and stored every step
        roots |= _names(e)
    for st in p.reset:
        roots |= _names(st.expr)
    for m in program.monitors.values():
        if m.target == p.name:
            for v in m.variables:
                roots |= {v} | _names(p.subexpressions.get(v))
    for pr in program.projections.values():
        for st in [*pr.on_pre, *pr.on_post, *(Statement(o.name, "=", o.rhs)
                                                for o in pr.clock_odes)]:
            names = _names(st.expr) | {st.target}
            if pr.post == p.name:
                roots |= {n[:-5] for n in names if n.endswith("_post")}
            if pr.pre == p.name:
                roots |= {n[:-4] for n in names if n.endswith("_pre")}
    # a Poisson input's target stays: the input's stage writes it
    roots |= {inp.variable for inp in program.inputs.values() if inp.target == p.name}
    deps: dict[str, set[str]] = {}
    for o in p.odes:
        deps[o.name] = _names(o.rhs)
    live = set()
    stack = [r for r in roots]
    while stack:
        v = stack.pop()
        if v in live:
            continue
        live.add(v)
        stack.extend(deps.get(v, ()))
    return live


def eliminate_dead_state(p: ir.Population, program: ir.Program) -> ir.Population:
    """Drop the ODEs (and resets) of state variables nothing observable depends on."""
    if p.kind != "neuron" or not p.odes:
        return p
    live = live_variables(p, program)
    dead = [o.name for o in p.odes if o.name not in live]
    if not dead:
        return p
    return p.with_(
        odes=[o for o in p.odes if o.name not in dead],
        variables={k: v for k, v in p.variables.items() if k not in dead},
        reset=[s for s in p.reset if s.target not in dead],
        unless_refractory=tuple(v for v in p.unless_refractory if v not in dead),
        removed=(*p.removed, *dead))


def cse_statements(statements: list[Statement], prefix: str = "_cse") -> list[Statement]:
    """The same computation with repeated subexpressions hoisted into temporaries."""
    if len(statements) == 0:
        return statements
    # A name may be read, then assigned, then read again ("w += exp(v); v = 0;
    # u = exp(v)"): every assignment gets a fresh version of its target for the CSE, so
    # values from before and after it are never merged; versions are mapped back below.
    current: dict[sympy.Symbol, sympy.Symbol] = {}
    back: dict[sympy.Symbol, sympy.Symbol] = {}
    exprs = []
    for s in statements:
        exprs.append(s.expr.xreplace(current))
        name = sympy.Symbol(s.target, real=True)
        current[name] = sympy.Dummy(s.target, real=True)
        back[current[name]] = name
    symbols = sympy.numbered_symbols(prefix, real=True)
    replacements, reduced = sympy.cse(exprs, symbols=symbols, optimizations=None)
    replacements = [(x, e.xreplace(back)) for x, e in replacements]
    reduced = [r.xreplace(back) for r in reduced]
    # The statements run in order and later ones read the targets of earlier ones
    # (``_k1_v`` in Runge-Kutta), so a temporary may only be computed once every name
    # it reads is: emit each one just before the first statement that needs it.
    defs = dict(replacements)
    order = {sym: k for k, (sym, _) in enumerate(replacements)}
    out: list[Statement] = []
    done: set[sympy.Symbol] = set()
    for s, r in zip(statements, reduced):
        need: set[sympy.Symbol] = set()
        stack = [x for x in r.free_symbols if x in defs]
        while stack:
            x = stack.pop()
            if x not in done and x not in need:
                need.add(x)
                stack.extend(y for y in defs[x].free_symbols if y in defs)
        out += [Statement(x.name, "=", defs[x], "common subexpression")
                for x in sorted(need, key=order.__getitem__)]
        done |= need
        out.append(Statement(s.target, s.op, r, s.comment))
    return out


def prune(program: ir.Program) -> ir.Program:
    """Dead-state elimination on every population (run before ``integrate``)."""
    pops = {k: eliminate_dead_state(p, program) for k, p in program.populations.items()}
    return program.with_(populations=pops, passes=[*program.passes, "prune"])


def cse(program: ir.Program) -> ir.Program:
    """CSE of every population's update and every projection's clock-driven update (run
    after ``integrate``)."""
    pops = {k: (p.with_(update=cse_statements(p.update)) if p.update else p)
            for k, p in program.populations.items()}
    projs = {k: (pr.with_(clock_update=cse_statements(pr.clock_update)) if pr.clock_update
                 else pr) for k, pr in program.projections.items()}
    return program.with_(populations=pops, projections=projs,
                         passes=[*program.passes, "cse"])
