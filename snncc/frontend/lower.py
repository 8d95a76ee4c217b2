"""Lowering: network objects -> IR (:mod:`snncc.ir.program`).

Names are resolved, units checked, connectivity, initial values and delays generated
(deterministically from the network seed). Nothing here knows about backends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy

from snncc.errors import (
    ModelError,
    NetworkError,
    ParameterError,
    ShapeError,
    UnitError,
    UnknownNameError,
)
from snncc.frontend import connectivity as conn
from snncc.frontend.equations import Equation, Equations
from snncc.frontend.evaluate import evaluate
from snncc.frontend.expressions import Expression, NameInfo, sym
from snncc.frontend.initializers import Initializer, sample_weights
from snncc.frontend.models import (
    SECOND,
    Scope,
    SynapseModel,
    check_param_value,
    is_unit_aware,
    value_array,
)
from snncc.frontend.monitors import PopulationRateMonitor, SpikeMonitor, StateMonitor
from snncc.frontend.network import (
    Connection,
    Network,
    NeuronGroup,
    PoissonGroup,
    SpikeGeneratorGroup,
    split_group,
)
from snncc.frontend.poisson_input import PoissonInput, lower_input
from snncc.ir import program as ir
from snncc.ir.functions import is_random
from snncc.ir.statements import Statement
from snncc.units import (
    DIMENSIONLESS,
    Dimension,
    Quantity,
    get_dimension,
    get_value,
    time_to_seconds,
)

LASTSPIKE_NEVER = -(1 << 40)  # "never spiked", in steps
#: the longest refractory period and delay, in steps: a longer refractory period would
#: reach "never spiked" (LASTSPIKE_NEVER); the spike history holds one row per step of
#: the longest delay
MAX_REFRACTORY_STEPS = 1 << 31
MAX_DELAY_STEPS = 10_000_000
HZ = Dimension(s=-1)


@dataclass
class _Lowered:
    pop: ir.Population
    scope: Scope
    unit_aware: bool


def lower_network(net: Network, batch: int = 1, objects: list | None = None) -> ir.Program:
    """The IR program of ``net`` (``objects``: what ``net.flatten()`` returned)."""
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ParameterError(f"batch must be a positive integer, got {batch!r}")
    if objects is None:
        objects, _ = net.flatten()
    seed = net.seed if net.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
    rng = np.random.default_rng(seed)
    lowered: dict[str, _Lowered] = {}
    if not any(isinstance(o, (NeuronGroup, PoissonGroup, SpikeGeneratorGroup))
               for o in objects):
        raise NetworkError(f"network '{net.name}' has no neuron groups; create them inside "
                           "'with net:' or add them with net.add(...)")
    for obj in objects:
        if isinstance(obj, NeuronGroup):
            lowered[obj.name] = _lower_neurons(obj, net.dt, rng)
        elif isinstance(obj, PoissonGroup):
            lowered[obj.name] = _lower_poisson(obj, net.dt)
        elif isinstance(obj, SpikeGeneratorGroup):
            lowered[obj.name] = _lower_generator(obj, net.dt)
    projections: dict[str, ir.Projection] = {}
    monitors: dict[str, ir.Monitor] = {}
    inputs: dict[str, ir.PoissonInput] = {}
    for obj in objects:
        if isinstance(obj, Connection):
            projections[obj.name] = _lower_connection(obj, lowered, net.dt, rng)
        elif isinstance(obj, (SpikeMonitor, StateMonitor, PopulationRateMonitor)):
            monitors[obj.name] = _lower_monitor(obj, lowered)
        elif isinstance(obj, PoissonInput):
            target = _member(split_group(obj.target)[0], lowered,
                             f"PoissonInput '{obj.name}'")
            inputs[obj.name] = lower_input(obj, target.pop, target.unit_aware, net.dt)
    if getattr(net, "_learning", False):
        # weights that training will change stay per-synapse variables (not constants)
        for pr in projections.values():
            w = pr.variables.get("w")
            if w is not None and np.ndim(w.init) == 0:
                w.init = np.full(pr.n_synapses, float(w.init))
    return ir.Program(dt=net.dt, populations={k: v.pop for k, v in lowered.items()},
                      projections=projections, monitors=monitors, seed=seed, batch=int(batch),
                      schedule=getattr(net, "schedule", "brian2"), inputs=inputs)


def _member(group: object, lowered: dict[str, _Lowered], what: str) -> _Lowered:
    name = getattr(group, "name", None)
    if name not in lowered or group.network is None:  # type: ignore[attr-defined]
        raise NetworkError(f"{what} refers to group {name!r}, which is not part of this "
                           "network; create it in the same 'with net:' block or net.add() it")
    return lowered[name]


# ---------------------------------------------------------------------- neurons
def _lower_neurons(g: NeuronGroup, dt: float, rng: np.random.Generator) -> _Lowered:
    model = g.model
    eqs = model.equations
    owner = f"NeuronGroup '{g.name}' (model '{model.name}')"
    params = {**model.params, **g.params}
    ua = is_unit_aware(eqs, params, model.init, g.init)
    ts = 1.0 if ua else 1e3
    dt_m = dt * ts
    scope = Scope(owner, unit_aware=ua, time_scale=ts)
    variables: dict[str, ir.Variable] = {}
    for eq in eqs.diff:
        scope.add_variable(eq.name, eq.dim)
        variables[eq.name] = ir.Variable(eq.name, scope.dim(eq.dim), "state", init=0.0)
    for eq in eqs.parameters:
        value = params.get(eq.name, 0.0)  # parameters default to 0, like Brian2's
        if eq.name in params:
            check_param_value(owner, eq.name, value, eq.dim, ua)
        if "shared" in eq.flags:
            arr = value_array(owner, eq.name, value, 1)
            scope.add_constant(eq.name, float(np.asarray(arr).reshape(-1)[0]))
            scope.const_dims[eq.name] = scope.dim(eq.dim)
            continue
        scope.add_variable(eq.name, eq.dim)
        variables[eq.name] = ir.Variable(eq.name, scope.dim(eq.dim), "param",
                                         init=value_array(owner, eq.name, value, g.size),
                                         constant="constant" in eq.flags)
    for eq in eqs.subexpressions:
        scope.subexpressions[eq.name] = eq.expr  # type: ignore[assignment]
        scope.sub_dims[eq.name] = scope.dim(eq.dim)
        if "constant over dt" in eq.flags:
            # a stored value, computed once per step before the state update (Brian2's
            # semantics): everything else reads the variable, not the expression
            scope.add_variable(eq.name, eq.dim)
            variables[eq.name] = ir.Variable(eq.name, scope.dim(eq.dim), "internal",
                                             init=0.0)
    for name, value in params.items():
        if name in eqs.equations:
            kind = eqs.equations[name].kind
            if kind == "diff":
                raise ParameterError(f"{owner}: params sets '{name}', which is a state "
                                     "variable; give its initial value in init= instead")
            if kind == "sub":
                raise ParameterError(f"{owner}: params sets '{name}', which is a "
                                     "subexpression of the model")
            continue
        if not name.isidentifier():
            raise ParameterError(f"{owner}: parameter name {name!r} is not an identifier")
        arr = value_array(owner, name, value, g.size)
        if isinstance(arr, np.ndarray):
            scope.add_variable(name, get_dimension(value))
            variables[name] = ir.Variable(name, scope.dim(get_dimension(value)), "param",
                                          init=arr)
        else:
            scope.add_constant(name, arr)
            scope.const_dims[name] = scope.dim(get_dimension(value))
    has_ref = model.refractory is not None
    if has_ref:
        # lastspike is stored in steps; in expressions it is a time
        variables["lastspike"] = ir.Variable("lastspike", scope.dim(SECOND), "internal",
                                             dtype="int", init=float(LASTSPIKE_NEVER))
        scope.extra["lastspike"] = NameInfo(sym("lastspike") * sympy.Float(dt_m),
                                            scope.dim(SECOND))
    if isinstance(model.refractory, str):
        # a refractory condition needs a flag that persists between steps
        variables["not_refractory"] = ir.Variable("not_refractory", scope.dim(DIMENSIONLESS),
                                                  "internal", dtype="bool", init=1.0)
        scope.extra["not_refractory"] = NameInfo(sym("not_refractory"),
                                                 scope.dim(DIMENSIONLESS))
    scope.extra["i"] = NameInfo(sym("i"), scope.dim(DIMENSIONLESS))
    scope.extra["N"] = NameInfo(sympy.Integer(g.size), scope.dim(DIMENSIONLESS))

    odes = []
    for eq in eqs.diff:
        rhs, d = _derivative(eq, scope, ua)
        want = scope.variables[eq.name] / SECOND if ua and eq.dim is not None else None
        if want is not None and d is not None and d != want and rhs != 0:
            raise eq.expr.error(  # type: ignore[union-attr]
                f"the right-hand side of d{eq.name}/dt has dimension {d}, expected {want} "
                f"(the unit of {eq.name} per second); give parameters with units", 0,
                kind=UnitError)
        odes.append(ir.ODE(eq.name, rhs, eq.text.strip()))
    subs, stored = {}, {}
    for eq in eqs.subexpressions:
        subs[eq.name] = scope.expand(eq.name)[0]
        if "constant over dt" in eq.flags:
            stored[eq.name] = subs[eq.name]
            if is_random(subs[eq.name]):
                del subs[eq.name]  # its value is drawn in the update: not recordable
    stored = _dependency_order(owner, stored)

    threshold = None
    if model._threshold is not None:
        threshold, _ = model._threshold.to_sympy(scope.resolve, check_units=ua)
        if not isinstance(threshold, (sympy.logic.boolalg.Boolean,
                                      sympy.core.relational.Relational)):
            raise model._threshold.error("the threshold must be a condition", 0,
                                         expected="a comparison such as 'v > Vt'")
    reset: list[Statement] = []
    if model._reset is not None:
        reset = model._reset.to_statements(scope.resolve, check_units=ua,
                                           writable=_writable(variables))
    refractory = None
    ref_text = ""
    if isinstance(model.refractory, str):
        cond, _ = model._refractory_cond.to_sympy(scope.resolve, check_units=ua)  # type: ignore
        refractory = cond if isinstance(cond, (sympy.logic.boolalg.Boolean,
                                               sympy.core.relational.Relational)) \
            else sympy.Ne(cond, 0)
        ref_text = model.refractory
    elif has_ref:
        secs = time_to_seconds(model.refractory, f"{owner}: refractory")
        steps = int((secs + 1e-3 * dt) / dt)
        if steps > MAX_REFRACTORY_STEPS:
            raise ParameterError(f"{owner}: the refractory period {secs:g} s is "
                                 f"{steps:.3g} steps of dt, more than the "
                                 f"{MAX_REFRACTORY_STEPS} supported; give a shorter one")
        refractory = sympy.Lt(sym("_n") - sym("lastspike"), steps)
        ref_text = f"{secs * 1e3:g} ms ({steps} steps)"
    unless = tuple(eq.name for eq in eqs.diff if "unless refractory" in eq.flags)
    _no_noise(owner, [("threshold", threshold), ("refractory condition", refractory),
                      *((f"reset of {st.target}", st.expr) for st in reset),
                      *((f"subexpression {k}", e) for k, e in stored.items())])

    pop = ir.Population(
        name=g.name, size=g.size, kind="neuron", variables=variables,
        constants=dict(scope.constants), odes=odes, subexpressions=subs,
        subexpression_texts={eq.name: eq.text.strip() for eq in eqs.subexpressions},
        constant_over_dt=stored, method=model.method,
        unless_refractory=unless if has_ref else (), threshold=threshold,
        threshold_text=model.threshold or "", reset=reset, refractory=refractory,
        refractory_text=ref_text, time_scale=ts, model_name=model.name,
        equations_text=eqs.text)
    _apply_init(pop, scope, {**model.init, **g.init}, owner, ua, rng, dt_m)
    return _Lowered(pop, scope, ua)


def _no_noise(owner: str, parts: list[tuple[str, sympy.Expr | None]]) -> None:
    """White noise (``xi``) has a meaning only in differential equations."""
    for what, e in parts:
        for s in () if e is None else e.free_symbols:
            if s.name == "xi" or s.name.startswith("xi_"):
                raise ModelError(f"{owner}: the {what} uses the white noise '{s.name}', which "
                                 "only differential equations may contain; use randn() for a "
                                 "random number")


def _derivative(eq: Equation, scope: Scope, ua: bool
                ) -> tuple[sympy.Expr, Dimension | None]:
    """The right-hand side of ``d x/dt = ...`` and its dimension; it must be a number."""
    rhs, d = eq.expr.to_sympy(scope.resolve, check_units=ua)  # type: ignore[union-attr]
    if isinstance(rhs, (sympy.logic.boolalg.Boolean, sympy.core.relational.Relational)) \
            and not rhs.is_Symbol:
        raise eq.expr.error(  # type: ignore[union-attr]
            f"the right-hand side of d{eq.name}/dt is a condition (true or false), not a "
            "rate of change", 0, expected="an expression such as '(El - v)/tau' (or "
            "int(condition) for 1 or 0)")
    return rhs, d


def _dependency_order(owner: str, stored: dict[str, sympy.Expr]) -> dict[str, sympy.Expr]:
    """The (constant over dt) subexpressions in the order they must be computed (each
    after those it reads); a cycle is an error."""
    out: dict[str, sympy.Expr] = {}
    pending = dict(stored)
    while pending:
        ready = [n for n, e in pending.items()
                 if not {s.name for s in e.free_symbols} & set(pending)]
        if not ready:
            raise ModelError(f"{owner}: the (constant over dt) subexpressions "
                             f"{', '.join(sorted(pending))} refer to each other (or to "
                             "themselves) in a cycle; each must be computable from the state")
        for n in ready:
            out[n] = pending.pop(n)
    return out


def _writable(variables: dict[str, ir.Variable]):  # noqa: ANN202
    def check(name: str) -> str | None:
        v = variables.get(name)
        if v is None:
            return "it is not a variable (constants, subexpressions and t are read-only)"
        if v.kind == "internal":
            return "it is managed by snncc"
        if v.constant:
            return "it is declared (constant)"
        return None
    return check


def _env(scope: Scope, variables: dict[str, ir.Variable], size: int, dt_m: float
         ) -> dict[str, object]:
    env: dict[str, object] = dict(scope.constants)
    for k, v in variables.items():
        env[k] = np.broadcast_to(np.asarray(v.init, dtype=np.float64), (size,))
    env.update(i=np.arange(size, dtype=np.float64), t=0.0, dt=dt_m, _n=0.0)
    return env


def _apply_init(pop: ir.Population, scope: Scope, init: dict[str, object], owner: str,
                ua: bool, rng: np.random.Generator, dt_m: float) -> None:
    for name, value in init.items():
        var = pop.variables.get(name)
        if var is None or var.kind == "internal":
            known = ", ".join(k for k, v in pop.variables.items() if v.kind != "internal")
            raise UnknownNameError(f"{owner}: init= sets '{name}', which is not a variable of "
                                   f"the model; variables: {known}")
        if isinstance(value, str):
            e = Expression(value, where=f"{owner} init of '{name}'")
            expr, d = e.to_sympy(scope.resolve, check_units=ua)
            if ua and var.dim is not None and d is not None and d != var.dim and expr != 0:
                raise e.error(f"the initial value of '{name}' has dimension {d}, expected "
                              f"{var.dim}; write it in units of {var.dim}", 0, kind=UnitError)
            var.init = evaluate(expr, _env(scope, pop.variables, pop.size, dt_m), pop.size,
                                rng, f"{owner} init of '{name}'")
        else:
            check_param_value(owner, name, value, var.dim, ua, "initial value of")
            var.init = value_array(owner, name, value, pop.size)


# ------------------------------------------------------------------ spike sources
def _lower_poisson(g: PoissonGroup, dt: float) -> _Lowered:
    owner = f"PoissonGroup '{g.name}'"
    scope = Scope(owner, unit_aware=True, time_scale=1.0)
    scope.extra["i"] = NameInfo(sym("i"), DIMENSIONLESS)
    scope.extra["N"] = NameInfo(sympy.Integer(g.size), DIMENSIONLESS)
    variables: dict[str, ir.Variable] = {}
    if isinstance(g.rates, str):
        e = Expression(g.rates, where=f"{owner} rates")
        rates, d = e.to_sympy(scope.resolve, check_units=True)
        if d is not None and d != HZ and not d.is_dimensionless:
            raise e.error(f"rates must be in Hz, got {d}", 0, kind=UnitError)
    else:
        arr = np.asarray(get_value(g.rates), dtype=np.float64)
        if arr.size and float(arr.max()) * dt > 1.0:
            # one neuron spikes at most once per step: a higher rate would saturate
            top = float(arr.max())
            raise ParameterError(
                f"{owner}: a rate of {top:g} Hz is more than one spike per step "
                f"(rate * dt = {top * dt:g} > 1 at dt = {dt * 1e3:g} ms), which a Poisson "
                f"source cannot give; use {int(np.ceil(top * dt))} or more sources with the "
                "rate divided among them, or a smaller dt; for many sources into every "
                "neuron of a group, snncc.PoissonInput(target, target_var, N, rate, weight) "
                "draws their sum at once")
        if arr.ndim == 0:
            rates = sympy.Float(float(arr))
        else:
            variables["rates"] = ir.Variable("rates", HZ, "param", init=arr)
            scope.add_variable("rates", HZ)
            rates = sym("rates")
    pop = ir.Population(name=g.name, size=g.size, kind="poisson", variables=variables,
                        rates=rates, model_name="poisson")
    return _Lowered(pop, scope, True)


def _lower_generator(g: SpikeGeneratorGroup, dt: float) -> _Lowered:
    steps = np.round(g.times / dt).astype(np.int64)
    order = np.lexsort((g.indices, steps))
    steps, idx = steps[order], g.indices[order]
    if steps.size > 1:
        dup = (np.diff(steps) == 0) & (np.diff(idx) == 0)
        if dup.any():
            k = int(np.nonzero(dup)[0][0])
            raise ParameterError(f"SpikeGeneratorGroup '{g.name}': neuron {idx[k]} spikes "
                                 f"twice in time step {steps[k]} (dt = {dt * 1e3:g} ms); "
                                 "remove the duplicate spike or use a smaller dt")
    pop = ir.Population(name=g.name, size=g.size, kind="generator", spike_steps=steps,
                        spike_indices=idx, model_name="generator")
    scope = Scope(f"SpikeGeneratorGroup '{g.name}'", unit_aware=True, time_scale=1.0)
    return _Lowered(pop, scope, True)


# ------------------------------------------------------------------- connections
def _side_names(scope: Scope, side: _Lowered, suffix: str, bare: bool) -> set[str]:
    """Make the variables of the pre/post population visible as ``x_pre`` / ``x_post``
    (and bare ``x`` for the postsynaptic side, unless the synapses have a variable,
    subexpression or constant of that name: synaptic names come first). Returns the
    symbol names of the side's variables (``v_post``, ...)."""
    own = set(scope.variables) | set(scope.subexpressions) | set(scope.constants)
    names = set()
    for k, v in side.pop.variables.items():
        dim = v.dim if side.unit_aware else None
        sname = f"{k}_{suffix}"
        expr = sym(sname)
        if k == "lastspike":
            continue
        scope.extra[sname] = NameInfo(expr, dim)
        names.add(sname)
        if bare and k not in scope.extra and k not in own:
            scope.extra[k] = NameInfo(expr, dim)
    for k, value in side.pop.constants.items():
        info = NameInfo(sympy.Float(value), side.scope.const_dims.get(k))
        scope.extra.setdefault(f"{k}_{suffix}", info)
    return names


def _lower_connection(c: Connection, lowered: dict[str, _Lowered], dt: float,
                      rng: np.random.Generator) -> ir.Projection:
    owner = f"Connection '{c.name}'"
    pre_g, a0, a1 = split_group(c.pre)
    post_g, b0, b1 = split_group(c.post)
    pre = _member(pre_g, lowered, owner)
    post = _member(post_g, lowered, owner)
    model: SynapseModel = c.model
    eqs = model.equations
    params = {**model.params, **c.params}
    ua = post.unit_aware or pre.unit_aware or is_unit_aware(eqs, params, c.init)
    # a unit-aware synapse model holds SI values (times in seconds) even between unitless
    # groups (times in ms): its t, dt and elapsed times must be in seconds too
    ts = 1.0 if ua else (post.pop.time_scale if post.pop.kind == "neuron"
                         else pre.pop.time_scale)
    scope = Scope(owner, unit_aware=ua, time_scale=ts)
    n_pre, n_post = a1 - a0, b1 - b0
    _check_synapse_names(owner, eqs)

    # connectivity
    i, j = _pairs(c, n_pre, n_post, rng, owner, scope)
    S = int(i.shape[0])
    variables: dict[str, ir.Variable] = {}
    for eq in eqs.parameters:
        value = params.get(eq.name, 0.0)  # parameters default to 0, like Brian2's
        if eq.name in params:
            check_param_value(owner, eq.name, value, eq.dim, ua)
        if "shared" in eq.flags:
            scope.add_constant(eq.name, float(np.asarray(value_array(owner, eq.name, value, 1)
                                                         ).reshape(-1)[0]))
            scope.const_dims[eq.name] = scope.dim(eq.dim)
            continue
        scope.add_variable(eq.name, eq.dim)
        variables[eq.name] = ir.Variable(eq.name, scope.dim(eq.dim), "param",
                                         init=value_array(owner, eq.name, value, S),
                                         constant="constant" in eq.flags)
    # differential equations: (event-driven) ones are advanced at events, (clock-driven)
    # ones (models.py demands one of the two flags) every step
    event = [e for e in eqs.diff if "event-driven" in e.flags]
    clock = [e for e in eqs.diff if "event-driven" not in e.flags]
    for eq in eqs.diff:
        scope.add_variable(eq.name, eq.dim)
        variables[eq.name] = ir.Variable(eq.name, scope.dim(eq.dim), "state", init=0.0)
    if event:
        variables["lastupdate"] = ir.Variable("lastupdate", scope.dim(SECOND), "internal",
                                              dtype="int", init=0.0)
    for eq in eqs.subexpressions:  # expanded where used (equations and event code)
        if "constant over dt" in eq.flags:
            raise ModelError(f"{owner}: the subexpression '{eq.name}' (line {eq.line}) is "
                             "flagged (constant over dt), which only neuron models support; "
                             "remove the flag (it is then evaluated wherever it is used)")
        scope.subexpressions[eq.name] = eq.expr  # type: ignore[assignment]
        scope.sub_dims[eq.name] = scope.dim(eq.dim)
    for name, value in params.items():
        if name in eqs.equations:
            continue
        arr = value_array(owner, name, value, S)
        if isinstance(arr, np.ndarray):
            scope.add_variable(name, get_dimension(value))
            variables[name] = ir.Variable(name, scope.dim(get_dimension(value)), "param",
                                          init=arr)
        else:
            scope.add_constant(name, arr)
            scope.const_dims[name] = scope.dim(get_dimension(value))
    scope.extra["i"] = NameInfo(sym("i"), scope.dim(DIMENSIONLESS))
    scope.extra["j"] = NameInfo(sym("j"), scope.dim(DIMENSIONLESS))
    env = dict(scope.constants)
    env.update(i=i.astype(np.float64), j=j.astype(np.float64), N_pre=float(n_pre),
               N_post=float(n_post))
    weight, init = c.weight, dict(c.init)
    if isinstance(weight, Initializer):
        weight = sample_weights(weight, i, j, n_pre, n_post, rng, kernel=c.kernel)
    if weight is not None:
        if "w" not in variables:
            d = None
            if isinstance(weight, str):
                e = Expression(weight, where=f"{owner} weight")
                _, d = e.to_sympy(scope.resolve, check_units=ua)
            else:
                d = get_dimension(weight)
            scope.add_variable("w", d)
            variables["w"] = ir.Variable("w", scope.dim(d), "param", init=0.0)
        init = {"w": weight, **init}
    for name, value in init.items():
        var = variables.get(name)
        if var is None:
            raise UnknownNameError(f"{owner}: init= sets '{name}', which is not a synaptic "
                                   f"variable; declare it in the synapse model (e.g. "
                                   f"'{name} : volt')")
        if isinstance(value, str):
            e = Expression(value, where=f"{owner} init of '{name}'")
            expr, d = e.to_sympy(scope.resolve, check_units=ua)
            if ua and var.dim is not None and d is not None and d != var.dim and expr != 0:
                raise e.error(f"the initial value of '{name}' has dimension {d}, expected "
                              f"{var.dim}; write it in units of {var.dim}", 0, kind=UnitError)
            var.init = evaluate(expr, env, S, rng, f"{owner} init of '{name}'")
        else:
            check_param_value(owner, name, value, var.dim, ua, "initial value of")
            var.init = value_array(owner, name, value, S)
        env[name] = np.broadcast_to(np.asarray(var.init, dtype=np.float64), (S,))
    delay = _delays(c, S, env, dt, rng, owner, scope, ua)

    # from here on: synaptic names, then x_pre / x_post, bare names -> post
    side = (_side_names(scope, post, "post", bare=True)
            | _side_names(scope, pre, "pre", bare=False))
    # event-driven equations may only depend on synaptic variables (they are advanced
    # only at events); clock-driven ones may also read the neurons (gathered per synapse)
    # but neither kind may depend on a variable of the other (as in Brian2)
    event_vars = {e.name for e in event}
    clock_vars = {e.name for e in clock}
    odes = [_synaptic_ode(owner, scope, eq, ua, "event-driven", side | clock_vars)
            for eq in event]
    clock_odes = [_synaptic_ode(owner, scope, eq, ua, "clock-driven", event_vars)
                  for eq in clock]

    # event code
    syn_vars = set(variables)
    writable = _syn_writable(variables, pre, post)
    on_pre = on_post = []
    if model._on_pre is not None:
        if not pre.pop.has_spikes:
            raise NetworkError(f"{owner}: on_pre code, but the presynaptic group "
                               f"'{pre.pop.name}' never spikes (its model has no threshold)")
        on_pre = _qualify(model._on_pre.to_statements(scope.resolve, check_units=ua,
                                                      writable=writable), syn_vars)
    if model._on_post is not None:
        if not post.pop.has_spikes:
            raise NetworkError(f"{owner}: on_post code, but the postsynaptic group "
                               f"'{post.pop.name}' never spikes (its model has no threshold)")
        on_post = _qualify(model._on_post.to_statements(scope.resolve, check_units=ua,
                                                        writable=writable), syn_vars)
    _no_noise(owner, [(f"{what} code ({st.target})", st.expr)
                      for what, sts in (("on_pre", on_pre), ("on_post", on_post))
                      for st in sts])
    return ir.Projection(
        name=c.name, pre=pre.pop.name, post=post.pop.name,
        i=_indices(i, a0, pre.pop.size), j=_indices(j, b0, post.pop.size),
        variables=variables, constants=dict(scope.constants), on_pre=on_pre, on_post=on_post,
        on_pre_text=model.on_pre or "", on_post_text=model.on_post or "", delay=delay,
        time_scale=ts, odes=odes, method=model.method, clock_odes=clock_odes,
        subexpression_texts={eq.name: eq.text.strip() for eq in eqs.subexpressions})


def _indices(x: np.ndarray, offset: int, size: int) -> np.ndarray:
    """``x + offset``, indices into a population of ``size`` neurons, as int32 where they
    fit (4 bytes per synapse instead of 8), else int64."""
    return np.add(x, offset, dtype=ir.index_dtype(size), casting="unsafe")


def _check_synapse_names(owner: str, eqs: Equations) -> None:
    """Names ending in ``_pre`` / ``_post`` mean the neurons' variables: a synapse model
    cannot define (and so cannot integrate or shadow) them."""
    for eq in eqs.equations.values():
        if eq.name.endswith(("_pre", "_post")):
            side = "pre" if eq.name.endswith("_pre") else "post"
            raise ModelError(
                f"{owner}: the synapse model defines '{eq.name}' (line {eq.line}), but names "
                f"ending in _{side} refer to the {side}synaptic neurons' variables, which "
                "synaptic equations cannot define or integrate; rename the synaptic "
                f"variable, change the neuron variable in on_pre/on_post code (e.g. "
                f"'{eq.name} += w') or put its dynamics in the neuron model")


def _synaptic_ode(owner: str, scope: Scope, eq: Equation, ua: bool, kind: str,
                  forbidden: set[str]) -> ir.ODE:
    """``d x/dt = rhs`` of a synapse model, unit-checked; ``forbidden``: names the
    right-hand side (subexpressions expanded) may not read."""
    rhs, dd = _derivative(eq, scope, ua)
    name = eq.name
    want = scope.variables[name] / SECOND if ua and eq.dim is not None else None
    if want is not None and dd is not None and dd != want and rhs != 0:
        raise eq.expr.error(  # type: ignore[union-attr]
            f"the right-hand side of d{name}/dt has dimension {dd}, expected {want} (the "
            f"unit of {name} per second); give parameters with units", 0, kind=UnitError)
    bad = sorted(s.name for s in rhs.free_symbols if s.name in forbidden)
    if bad:
        what = bad[0]
        if what.endswith(("_pre", "_post")):
            why = (f"'{what}', a variable of the {what.rsplit('_', 1)[1]}synaptic neurons, "
                   "which changes between events; mark the equation (clock-driven) to "
                   "integrate it every step")
        else:
            other = "event-driven" if kind == "clock-driven" else "clock-driven"
            why = (f"'{what}', which is {other}; {kind} and {other} equations cannot "
                   "depend on each other (as in Brian2): mark both with the same flag")
        raise ModelError(f"{owner}: the {kind} equation for '{name}' (line {eq.line}) "
                         f"reads {why}")
    return ir.ODE(name, rhs, eq.text.strip())


def _syn_writable(variables: dict[str, ir.Variable], pre: _Lowered, post: _Lowered):  # noqa
    def check(name: str) -> str | None:
        if name in variables:
            return "it is declared (constant)" if variables[name].constant else None
        for side, suffix in ((post, "_post"), (pre, "_pre")):
            base = name[:-len(suffix)] if name.endswith(suffix) else None
            if side is post and base is None:
                base = name
            if base is not None and base in side.pop.variables:
                v = side.pop.variables[base]
                if v.kind == "internal":
                    return "it is managed by snncc"
                return "it is declared (constant)" if v.constant else None
        return "it is not a variable (constants and units are read-only)"
    return check


def _qualify(statements: list[Statement], syn_vars: set[str]) -> list[Statement]:
    out = []
    for st in statements:
        t = st.target
        if t not in syn_vars and not t.endswith("_pre") and not t.endswith("_post"):
            t = f"{t}_post"
        out.append(Statement(t, st.op, st.expr, st.comment))
    return out


def _pairs(c: Connection, n_pre: int, n_post: int, rng: np.random.Generator, owner: str,
           scope: Scope) -> tuple[np.ndarray, np.ndarray]:
    if c.connect == "explicit":  # read only: the IR's indices are new arrays
        return c.i, c.j  # type: ignore[return-value]
    if c.connect == "one_to_one":
        return conn.pairs_one_to_one(n_pre)
    if c.connect == "fan_in":
        return conn.pairs_fan_in(n_pre, n_post, int(c.fan_in), rng)  # type: ignore[arg-type]
    condition = None
    if c.condition is not None:
        cs = Scope(owner, unit_aware=False, time_scale=scope.time_scale)
        for k in ("i", "j"):
            cs.extra[k] = NameInfo(sym(k), None)
        cs.extra["N_pre"] = NameInfo(sympy.Integer(n_pre), None)
        cs.extra["N_post"] = NameInfo(sympy.Integer(n_post), None)
        e = Expression(c.condition, where=f"{owner} condition")
        expr, _ = e.to_sympy(cs.resolve, check_units=False)
        if not isinstance(expr, (sympy.logic.boolalg.Boolean,
                                 sympy.core.relational.Relational)):
            raise e.error("the condition must be true or false for each pair (i, j)", 0,
                          expected="a comparison such as 'i != j' or 'abs(i - j) < 5'")
        bad = [s.name for s in expr.free_symbols if s.name not in ("i", "j")]
        if bad:
            raise UnknownNameError(f"{owner}: the condition may use i, j, N_pre, N_post and "
                                   f"numbers; unknown {', '.join(sorted(bad))}")
        condition = _condition(expr, rng, f"{owner} condition")
    return conn.pairs_full(n_pre, n_post, rng, p=c.p, condition=condition)


def _condition(expr: sympy.Expr, rng: np.random.Generator, what: str
               ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The connection condition as a function of index arrays (broadcast against each
    other); ``rand()`` / ``randn()`` draw one value per pair."""
    def condition(ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        ib, jb = np.broadcast_arrays(ii, jj)
        env = {"i": ib.reshape(-1).astype(np.float64), "j": jb.reshape(-1).astype(np.float64)}
        return (evaluate(expr, env, ib.size, rng, what) != 0).reshape(ib.shape)
    return condition


def _delays(c: Connection, S: int, env: dict, dt: float, rng: np.random.Generator,
            owner: str, scope: Scope, ua: bool) -> np.ndarray:
    """Per-synapse delays in steps (a single value when homogeneous)."""
    d = c.delay
    if d is None:
        return np.zeros(1, dtype=np.int64)
    if isinstance(d, str):
        e = Expression(d, where=f"{owner} delay")
        ds = Scope(owner, unit_aware=True, time_scale=1.0)
        ds.constants = dict(scope.constants)
        ds.const_dims = dict(scope.const_dims)
        ds.extra["i"] = NameInfo(sym("i"), DIMENSIONLESS)
        ds.extra["j"] = NameInfo(sym("j"), DIMENSIONLESS)
        expr, dim = e.to_sympy(ds.resolve, check_units=True)
        if dim is not None and dim != SECOND and not dim.is_dimensionless:
            raise UnitError(f"{owner}: delay must be a time such as '2*ms', got dimension "
                            f"{dim}")
        secs = evaluate(expr, env, S, rng, f"{owner} delay")
        if dim is not None and dim.is_dimensionless:
            secs = secs * 1e-3  # a bare number means ms
    elif isinstance(d, Quantity):
        if get_dimension(d) != SECOND:
            raise UnitError(f"{owner}: delay must be a time such as 2*ms, got {d}")
        secs = np.atleast_1d(np.asarray(d.value, dtype=np.float64))
    else:
        secs = np.atleast_1d(np.asarray(d, dtype=np.float64)) * 1e-3  # bare numbers: ms
    if secs.ndim != 1 or (secs.size != 1 and secs.shape != (S,)):
        raise ShapeError(f"{owner}: delay has shape {secs.shape}; expected one value or "
                         f"one per synapse ({S},)")
    if np.any(secs < 0) or not np.all(np.isfinite(secs)):
        raise ParameterError(f"{owner}: delays must be finite and >= 0")
    if secs.size and secs.max() / dt > MAX_DELAY_STEPS:
        raise ParameterError(f"{owner}: the delay {secs.max():g} s is {secs.max() / dt:.3g} "
                             f"steps of dt, more than the {MAX_DELAY_STEPS:,} supported (the "
                             "spike history keeps one row per step of delay)")
    steps = np.round(secs / dt).astype(np.int32)  # at most MAX_DELAY_STEPS
    if steps.size == 0:  # no synapses: one (unused) homogeneous delay
        return np.zeros(1, dtype=np.int32)
    if steps.size > 1 and np.all(steps == steps[0]):
        steps = steps[:1]
    return steps


# ---------------------------------------------------------------------- monitors
def _lower_monitor(m: SpikeMonitor | StateMonitor | PopulationRateMonitor,
                   lowered: dict[str, _Lowered]) -> ir.Monitor:
    owner = f"{type(m).__name__} '{m.name}'"
    target = _member(m.group, lowered, owner)
    if isinstance(m, SpikeMonitor):
        if not target.pop.has_spikes:
            raise NetworkError(f"{owner}: group '{target.pop.name}' never spikes (no "
                               "threshold)")
        return ir.Monitor(m.name, "spike", target.pop.name)
    if isinstance(m, PopulationRateMonitor):
        if not target.pop.has_spikes:
            raise NetworkError(f"{owner}: group '{target.pop.name}' never spikes (no "
                               "threshold)")
        return ir.Monitor(m.name, "rate", target.pop.name,
                          record=np.array([m.start, m.stop], dtype=np.int64))
    known = [k for k, v in target.pop.variables.items() if v.kind != "internal"]
    known += list(target.pop.subexpressions)
    for v in m.variables:
        if v in target.pop.constant_over_dt and v not in known:
            raise ModelError(f"{owner}: cannot record '{v}' of group '{target.pop.name}': it "
                             "is (constant over dt) and draws random numbers, which happens "
                             "in the state update, after monitors record; record a variable "
                             "it drives instead")
        if v not in known:
            raise UnknownNameError(f"{owner}: group '{target.pop.name}' has no variable "
                                   f"'{v}'; it has {', '.join(known) or 'none'}")
    return ir.Monitor(m.name, "state", target.pop.name, variables=m.variables,
                      record=m.record + m.start)
