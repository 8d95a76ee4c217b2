"""Training a network by BPTT (SPAIC's learners): the plan of what trains.

A network with ``schedule="layered"`` whose neuron groups are fed through static
connections with ``on_pre`` code ``x += c*w`` (one statement: a constant times the
synaptic weight, added to a variable ``x`` of the post group) is, step for step, a stack
of multi-step layers: the input of group ``G`` at step ``n`` is
``sum_c sum_k c * w_k * s_pre[n - lag_k]`` and ``G``'s update adds it to ``x`` before
integrating, exactly as the delivered spikes do in the simulation. A synapse's lag is its
delay in steps, plus one step when the connection is *late* (its target steps before its
source in the layered order: a self-connection or any other recurrent one, see
:mod:`snncc.passes.schedule`). Without late connections every group runs its whole
sequence at once, in order; with them the groups step together, one step at a time. This
module checks that and describes it as plain data (:class:`~snncc.runtime.training.TrainPlan`)
with one :class:`~snncc.Layer` per group (:func:`training_layers`); the runtime's
:class:`~snncc.runtime.training.TrainableNetwork` runs them.

A constant-current encoder (data times amplitude held in a parameter of a group) makes
that parameter the group's layer input, constant over the run; such a group takes no
connection input (a layer has one input variable).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy

from snncc.errors import NetworkError
from snncc.frontend.layers import Layer
from snncc.frontend.network import Connection, NeuronGroup, split_group
from snncc.frontend.nodes import Encoder
from snncc.runtime.training import TrainConnection, TrainCurrent, TrainGroup, TrainPlan
from snncc.units import get_value, second


def training_plan(net: Any, objects: list[Any], program: Any, order: Sequence[str]
                  ) -> TrainPlan:
    """Check that ``net`` (flattened ``objects``, lowered ``program`` before passes, the
    layered population ``order``) trains as layers; raise a :class:`NetworkError` naming
    what does not."""
    if getattr(net, "schedule", "brian2") != "layered":
        raise NetworkError(f"network '{net.name}': training needs schedule='layered' "
                           "(Network(..., schedule='layered')), so that the trained layers "
                           "and the simulation step the same way")
    if program.inputs:
        name = next(iter(program.inputs))
        raise NetworkError(f"network '{net.name}': PoissonInput '{name}' cannot be trained "
                           "through (the trained layers draw no Poisson input); drive the "
                           "trained groups with encoders or connections from a PoissonGroup")
    plan = TrainPlan(dt=program.dt)
    groups = {o.name: o for o in objects if isinstance(o, NeuronGroup)}
    for name, g in groups.items():
        if isinstance(g, Encoder):
            plan.encoders[name] = g.size
    # constant-current encoders do not lower (they write into their target's variable):
    # found in the user's tree, keyed by path, their targets by build name
    currents: dict[str, list[TrainCurrent]] = {}
    for e in net.walk():
        if isinstance(e, Encoder) and not e.hidden and e.coding == "constant_current":
            tg, lo, hi = split_group(e.target)
            currents.setdefault(net.build_name(tg), []).append(TrainCurrent(
                encoder=e.path, variable=e.variable, lo=lo, hi=hi,
                amplitude=float(get_value(e.amplitude))))
    conns: list[TrainConnection] = []
    for c in objects:
        if not isinstance(c, Connection):
            continue
        pr = program.projections[c.name]
        who = f"Connection '{c.name}'"
        if pr.on_post or pr.odes or getattr(pr, "clock_odes", None):
            raise NetworkError(f"{who}: plastic synapses (on_post code or synaptic "
                               "equations) cannot be trained by BPTT; use a static model "
                               "such as on_pre='v += w'")
        if len(pr.on_pre) != 1 or pr.on_pre[0].op != "+=" or \
                not pr.on_pre[0].target.endswith("_post"):
            raise NetworkError(f"{who}: a trainable connection's on_pre is one statement "
                               f"'x += w' (or 'x += c*w'), got {pr.on_pre_text.strip()!r}")
        st = pr.on_pre[0]
        w = sympy.Symbol("w", real=True)
        if "w" not in pr.variables:
            raise NetworkError(f"{who}: a trainable connection needs a per-synapse weight "
                               "'w' (weight=..., w_init=...)")
        values = {sympy.Symbol(k, real=True): v for k, v in pr.constants.items()}
        scale = sympy.simplify(st.expr.xreplace(values) / w)
        if scale.free_symbols or not scale.is_number:
            raise NetworkError(f"{who}: on_pre must add a constant times w, got "
                               f"{pr.on_pre_text.strip()!r}")
        pairs = pr.i.astype(np.int64) * (10**12) + pr.j.astype(np.int64)
        if np.unique(pairs).size != pairs.size:
            raise NetworkError(f"{who}: two synapses join the same pair of neurons; a "
                               "trainable connection has at most one per pair")
        if pr.pre not in groups:
            raise NetworkError(f"{who}: its source '{pr.pre}' is not a neuron group or "
                               "encoder; Poisson and generator groups cannot feed training")
        pre_pop = program.populations[pr.pre]
        post_pop = program.populations[pr.post]
        conns.append(TrainConnection(
            name=c.name, pre=pr.pre, post=pr.post, i=pr.i, j=pr.j,
            w=np.broadcast_to(np.asarray(pr.variables["w"].init, dtype=np.float64),
                              (pr.n_synapses,)).copy(),
            scale=float(scale), target=st.target[:-len("_post")],
            n_pre=pre_pop.size, n_post=post_pop.size,
            lag=np.broadcast_to(np.asarray(pr.delay, dtype=np.int64),
                                (pr.n_synapses,)).copy()))
    order = list(order)
    pos = {k: n for n, k in enumerate(order)}
    for c in conns:
        if pos[c.pre] >= pos[c.post]:  # the target has stepped: one step later
            c.late = True
            c.lag = c.lag + 1
    plan.connections = conns
    for name in order:
        g = groups.get(name)
        if g is None or name in plan.encoders:
            if name not in plan.encoders and name not in groups:
                raise NetworkError(f"group '{name}' is not a neuron group; training handles "
                                   "neuron groups and encoders")
            continue
        targets = {c.target for c in conns if c.post == name}
        if len(targets) > 1:
            raise NetworkError(f"NeuronGroup '{name}': its connections write "
                               f"{', '.join(sorted(targets))}; a trained layer has one "
                               "input variable")
        pop = program.populations[name]
        init = {k: np.broadcast_to(np.asarray(v.init, dtype=np.float64), (pop.size,)).copy()
                for k, v in pop.variables.items() if v.kind == "state"}
        params = dict(g.params)
        cc = currents.get(name, [])
        base = None
        if cc:
            var = cc[0].variable
            if targets:
                raise NetworkError(
                    f"NeuronGroup '{name}': constant-current encoder '{cc[0].encoder}' drives "
                    f"'{var}' and connections write {', '.join(sorted(targets))}; a trained "
                    "layer has one input, so feed this group from the encoder only (or use a "
                    "spiking coding)")
            if any(c.variable != var for c in cc):
                raise NetworkError(f"NeuronGroup '{name}': constant-current encoders drive "
                                   f"{', '.join(sorted({c.variable for c in cc}))}; a trained "
                                   "layer has one input variable")
            v = pop.variables.get(var)
            value = v.init if v is not None else pop.constants.get(var, 0.0)
            base = np.broadcast_to(np.asarray(value, dtype=np.float64), (pop.size,)).copy()
            params.pop(var, None)  # the layer's input now
            targets = {var}
        plan.groups.append(TrainGroup(name=name, model=g.model, params=params,
                                      size=g.size, input=next(iter(targets), None),
                                      init=init, currents=cc, base=base))
    return plan


def training_layers(plan: TrainPlan, *, surrogate: str, alpha: float | None,
                    detach_reset: bool, backend: str) -> dict[str, Layer]:
    """One :class:`~snncc.Layer` per group of ``plan`` (by group name): its own model,
    parameters and size, driven through its input variable (default: its first state)."""
    layers = {}
    for g in plan.groups:
        states = [e.name for e in g.model.equations.diff]
        layers[g.name] = Layer(
            g.model, input=g.input or states[0], dt=plan.dt * second,
            params=g.params, size=g.size, surrogate=surrogate, alpha=alpha,
            detach_reset=detach_reset, backend=backend, name=g.name)
    return layers
