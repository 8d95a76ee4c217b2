"""Network objects: the user-facing description of a spiking network.

Objects created inside ``with net:`` (anywhere: a function, a test, a notebook) or
assigned as attributes of a :class:`Network` subclass belong to that network.
``net.compile()`` lowers them to the IR, runs the passes and returns a runnable
:class:`~snncc.runtime.CompiledNetwork`.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from snncc.errors import (
    NetworkError,
    ParameterError,
    ShapeError,
    SnnccError,
    UnitError,
    check_names,
    did_you_mean,
)
from snncc.frontend import library
from snncc.frontend.assembly import Assembly, Projection, _references, _remap_refs, clone
from snncc.frontend.connectivity import pairs_conv
from snncc.frontend.expressions import Expression
from snncc.frontend.initializers import from_spaic
from snncc.frontend.learner import learners_of
from snncc.frontend.models import NeuronModel, SynapseModel, check_given
from snncc.frontend.objects import NetworkObject, detached
from snncc.ir import program as ir
from snncc.ir import surrogates
from snncc.ir.program import SCHEDULES
from snncc.runtime.network import CompiledNetwork
from snncc.runtime.recording import RateData, SpikeData
from snncc.runtime.training import TrainableNetwork, dense_spikes
from snncc.units import Dimension, Quantity, get_dimension, get_value, second, time_to_seconds


class Network(Assembly):
    """A spiking network: the root assembly, with a time step and a seed.

    Args:
        dt: time step (a time; a bare number means ms). Default 0.1 ms.
        seed: fixes initial values, connectivity, Poisson input and noise.
        name: shown in generated code.
        schedule: the order of a step. ``"brian2"`` (default): all state updates, then
            all thresholds, all synaptic pathways, all resets, so a spike reaches the
            next layer's threshold one step later (a chain of K layers answers after K
            steps). ``"layered"``: one population at a time, each after the populations
            that drive it without delay (its update, threshold, outgoing ``on_pre``,
            incoming ``on_post``, reset), so a spike crosses every layer within the
            step, as in SPAIC / SpikingJelly / snnTorch; delays still delay, and
            recurrent (cyclic) connections take effect at the next step.

    Build it with ``with net:`` (anywhere) or by subclassing and assigning members in
    ``__init__``; nested :class:`~snncc.frontend.assembly.Assembly` objects group
    members. Then either ``sim = net.compile(...)`` (a runnable ``nn.Module``, as
    Brian2 users expect) or SPAIC's flow: ``net.build(...)``, ``encoder(data)``,
    ``net.run(duration)`` (each run starts from the initial state, learned weights
    kept), ``decoder.predict``.
    """

    def __init__(self, dt: float | Quantity = 0.1, seed: int | None = None,
                 name: str = "net", schedule: str = "brian2") -> None:
        object.__setattr__(self, "_members", [])
        object.__setattr__(self, "_sim", None)
        object.__setattr__(self, "_build_names", {})
        self.name = name
        self.parent = None  # a network is never a member of another container
        self._hidden = False
        self.dt = time_to_seconds(dt, "Network dt")
        if not self.dt > 0:
            raise ParameterError(f"Network dt must be > 0, got {dt}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ParameterError(f"Network seed must be a non-negative integer, got {seed!r}")
        self.seed = seed
        if not isinstance(schedule, str) or schedule not in SCHEDULES:
            raise ParameterError(f"Network schedule must be one of {', '.join(SCHEDULES)} "
                                 f"('brian2': Brian2's order, a spike reaches the next "
                                 f"layer one step later; 'layered': layer by layer within "
                                 f"the step), got {schedule!r}"
                                 f"{did_you_mean(str(schedule), SCHEDULES)}")
        self.schedule = schedule

    def assembly_hide(self) -> None:  # noqa: D102
        raise NetworkError("a network cannot be hidden; hide its members instead")

    def groups(self) -> list[Group]:
        """Every neuron group (and encoder) of the network, nested ones included."""
        return self.get_groups()

    # --------------------------------------------------------------- flatten
    def flatten(self) -> tuple[list[NetworkObject], dict[str, Any]]:
        """The visible leaves as the build sees them: detached copies named by their
        path (``layer1.exc`` -> ``layer1_exc``), references rewired among the copies,
        projections expanded to connections, decoders to their monitors; and a map from
        each build name to the user's object (monitors and decoders receive their data
        there)."""
        self._assign_names()
        visible = [m for m in self.walk() if not isinstance(m, Assembly) and not m.hidden]
        all_ids = {id(m) for m in self.walk()}
        names: dict[int, str] = {}
        owners: dict[str, NetworkObject] = {}

        def build_name(obj: NetworkObject, name: str | None = None) -> str:
            name = name or obj.path.replace(".", "_")
            if name in owners:
                raise NetworkError(f"'{obj.path}' and '{owners[name].path}' would both be "
                                   f"named {name!r} in the build; rename one of them")
            owners[name] = obj
            return name

        copies: dict[int, NetworkObject] = {}
        out: list[NetworkObject] = []
        for g in visible:
            if isinstance(g, Group) and getattr(g, "lowers", True):
                names[id(g)] = build_name(g)
                c = copy.copy(g)
                if hasattr(g, "params"):
                    c.params = dict(g.params)
                c.name, c.parent = names[id(g)], self
                copies[id(g)] = c
                out.append(c)
        for obj in visible:
            if isinstance(obj, Group):
                continue
            if isinstance(obj, Projection):
                for r in (obj.pre, obj.post):
                    if id(r) not in all_ids:
                        raise NetworkError(f"{obj!r} ({obj.path}) connects {r!r}, which is "
                                           f"not part of this network ('{self.name}')")
                items = obj.connections(names, obj.path.replace(".", "_"))
            else:
                items = [obj]
            for item in items:
                refs = _references(item)
                outside = [r for r in refs if id(r) not in all_ids and item is obj]
                if outside:
                    r = outside[0]
                    what = "group" if isinstance(r, Group) else r._kind
                    raise NetworkError(f"{type(obj).__name__} '{obj.path}' refers to {what} "
                                       f"'{r.name}', which is not part of this network "
                                       f"('{self.name}'); create it in the same 'with net:' "
                                       "block or add it (net.add, or to an assembly)")
                missing = [r for r in refs if id(r) not in copies]
                if missing and missing[0].hidden:
                    continue  # touches a hidden member: left out with it
                if missing:
                    raise NetworkError(f"{type(obj).__name__} '{obj.path}' uses "
                                       f"{missing[0]!r}, which has no neurons of its own (a "
                                       "constant-current encoder drives its target "
                                       "directly); connect the target group instead")
                base = build_name(obj, None if item is obj else item.name)
                if item is obj:
                    names[id(obj)] = base
                for leaf in _leaves(item):
                    name = base if leaf is item else build_name(item, f"{base}_{leaf.name}")
                    c = copy.copy(leaf)
                    c.name, c.parent = name, self
                    _remap_refs(c, copies)
                    out.append(c)
        for obj in visible:
            if hasattr(obj, "_prepare_build"):
                obj._prepare_build(copies)
        object.__setattr__(self, "_build_names", names)
        return out, owners

    # --------------------------------------------------------------- compile
    def compile(self, backend: str = "auto", device: str | None = None,
                dtype: Any = None, batch: int = 1, **options: Any) -> CompiledNetwork:
        """Lower, optimise and generate code; returns a runnable ``nn.Module``.

        Args:
            backend: a registered backend (``snncc.backends.names()``: ``torch`` runs on
                any device, ``triton`` ...) or ``"auto"`` (default: the backend that
                prefers ``device``, such as triton on CUDA, else torch).
            device: torch device; default ``"cpu"``.
            dtype: ``torch.float32`` (default) or ``torch.float64``.
            batch: number of independent copies simulated side by side.
        """
        return CompiledNetwork.from_lowering(self._lower_for_build, backend=backend,
                                             device=device, dtype=dtype, batch=batch,
                                             **options)

    def _lower_for_build(self, batch: int) -> tuple[ir.Program, dict[str, Monitor]]:
        """The IR of the build (before passes) and its monitors by build name: the user's
        objects, which receive the recorded data."""
        from snncc.frontend.lower import lower_network  # lower.py imports this module

        objects, owners = self.flatten()
        program = lower_network(self, batch=batch, objects=objects)
        return program, {o.name: owners[o.name] for o in objects if isinstance(o, Monitor)}

    def lower(self, batch: int = 1) -> ir.Program:
        """The IR of this network, before passes (for inspection and tests)."""
        from snncc.frontend.lower import lower_network  # lower.py imports this module

        return lower_network(self, batch=batch)

    # ------------------------------------------------------- SPAIC-style running
    def build(self, backend: str = "auto", device: str | None = None, dtype: Any = None,
              batch: int = 1, *, learner: str | None = None, alpha: float | None = None,
              detach_reset: bool = False, **options: Any) -> CompiledNetwork:
        """Compile the network and keep the result as ``net.sim``, the simulator that
        :meth:`run`, :meth:`run_continue`, encoders and decoders use. Returns it.

        With ``learner`` (SPAIC's ``"STCA"`` / ``"STBP"`` / ``"sbp"`` or any surrogate name of
        :mod:`snncc.learning.surrogates`, sharpness ``alpha``) the network also trains:
        in training mode (:meth:`train`, on after such a build) :meth:`run` runs the
        network as fused multi-step layers with surrogate gradients, decoders' ``predict``
        is differentiable and :meth:`parameters` are the connections' weights; back in
        simulation mode (``net.train(False)``) the simulator runs with the learned
        weights. Needs ``schedule="layered"``; see :mod:`snncc.frontend.training`."""
        members = learners_of(self)
        if len(members) > 1:
            raise NetworkError(f"network '{self.name}' has {len(members)} learners ("
                               f"{', '.join(m.path for m in members)}); BPTT trains with one")
        spec = members[0] if members else None
        if spec is not None:
            if learner is not None:
                raise NetworkError(f"network '{self.name}' has Learner '{spec.path}' and "
                                   f"build(learner={learner!r}) was given too; use one")
            learner, detach_reset = spec.surrogate, spec.detach_reset
            alpha = spec.alpha if alpha is None else alpha
        object.__setattr__(self, "_learning", learner is not None)
        try:
            sim = self.compile(backend=backend, device=device, dtype=dtype, batch=batch,
                               **options)
        finally:
            object.__setattr__(self, "_learning", False)
        if learner is not None:
            _refuse_state_monitors(self, sim)
        object.__setattr__(self, "_sim", sim)
        object.__setattr__(self, "_sim_names", dict(self._build_names))
        object.__setattr__(self, "_trainer", None)
        object.__setattr__(self, "_training", False)
        if learner is not None:
            owners = self._build_trainer(sim, learner, alpha, detach_reset, backend, batch)
            if spec is not None:
                spec._attach(self, owners)
        for node in self.walk():
            if hasattr(node, "_on_build") and not node.hidden:
                node._on_build()
        return sim

    # ------------------------------------------------------------- training
    def _build_trainer(self, sim: CompiledNetwork, learner: str, alpha: float | None,
                       detach_reset: bool, backend: str, batch: int
                       ) -> dict[str, NetworkObject]:
        """Build the trainable form; returns the build-name -> user-object map."""
        # these modules import this one
        from snncc.frontend.lower import lower_network
        from snncc.frontend.monitors import SpikeMonitor
        from snncc.frontend.nodes import Decoder, Encoder
        from snncc.frontend.training import training_layers, training_plan

        surrogate = surrogates.resolve(learner)
        objects, owners = self.flatten()
        object.__setattr__(self, "_learning", True)
        try:
            lowered = lower_network(self, batch=batch, objects=objects)
        finally:
            object.__setattr__(self, "_learning", False)
        plan = training_plan(self, objects, lowered, sim.program.order)
        plan.traced = {self.build_name(split_group(d.target)[0]) for d in self.walk()
                       if isinstance(d, Decoder) and not d.hidden
                       and d.coding == "voltage_sum"}
        layers = training_layers(plan, surrogate=surrogate, alpha=alpha,
                                 detach_reset=detach_reset, backend=backend)
        trainer = TrainableNetwork(plan, layers, dtype=sim.dtype).to(sim.device)
        # the encoders run as their own small network: the same generated code, the
        # same codings, their spikes become the trained layers' input
        enc_net = Network(dt=self.dt * 1e3, seed=self.seed, name=f"{self.name}_inputs")
        encoders = [e for e in self.walk() if isinstance(e, Encoder) and not e.hidden
                    and e.lowers]
        monitors = {}
        for e, c in zip(encoders, clone(encoders)):
            c.name = self._build_names[id(e)]
            enc_net.add(c)
            with detached():
                monitors[c.name] = SpikeMonitor(c, name=f"{c.name}_spikes")
            enc_net.add(monitors[c.name])
        if encoders:
            enc_net.build(backend=sim.backend_name, device=sim.device, dtype=sim.dtype,
                          batch=batch)
        object.__setattr__(self, "_trainer", trainer)
        object.__setattr__(self, "_enc", (enc_net, dict(zip(encoders, [
            self._build_names[id(e)] for e in encoders])), monitors))
        object.__setattr__(self, "_training", True)
        object.__setattr__(self, "_train_out", None)
        return owners

    def _need_trainer(self) -> Any:
        if getattr(self, "_trainer", None) is None:
            raise NetworkError(f"network '{self.name}' was not built for training; use "
                               "net.build(..., learner='STCA') (or another surrogate)")
        return self._trainer

    def parameters(self) -> Iterator[Any]:
        """The trainable weights (for a torch optimizer), after a build with a learner
        (those a :class:`~snncc.Learner`'s ``trainable=`` froze are left out)."""
        return (p for p in self._need_trainer().parameters() if p.requires_grad)

    def train(self, mode: bool = True) -> Network:
        """Training mode (``run`` is differentiable) or, with ``False``, simulation mode:
        the learned weights are written into the simulator first."""
        trainer = self._need_trainer()
        if not mode and self._training:
            with torch.no_grad():
                for c in trainer.plan.connections:
                    w = self.sim.get(c.name, "w")
                    w.copy_(trainer.synapse_weights(c.name).to(w).expand_as(w))
        object.__setattr__(self, "_training", bool(mode))
        return self

    def eval(self) -> Network:
        """Simulation mode: ``net.train(False)``."""
        return self.train(False)

    def _train_run(self, duration: float | Quantity) -> None:
        from snncc.frontend.nodes import Encoder  # nodes.py imports this module

        sim = self.sim
        enc_net, names, monitors = self._enc
        steps = int(round(time_to_seconds(duration, "run duration") / self.dt))
        inputs, currents = {}, {}
        cc = [e for e in self.walk() if isinstance(e, Encoder) and not e.hidden
              and e.coding == "constant_current"]
        for e in [*names, *cc]:
            if e.data is None:
                raise NetworkError(f"Encoder '{e.name}' has no data; call it with the "
                                   "input first (encoder(data))")
        if names:
            for e, name in names.items():
                clone_obj = next(o for o in enc_net.walk() if o.name == name)
                clone_obj(e.data)
            enc_net.run(duration)
            for name, mon in monitors.items():
                inputs[name] = dense_spikes(mon._need(), steps, sim.program.batch,
                                            sim.program.populations[name].size,
                                            sim.device, sim.dtype)
        for e in cc:
            currents[e.path] = torch.as_tensor(e.data).to(sim.device, sim.dtype)
        if not inputs and not currents:
            raise NetworkError(f"network '{self.name}' has no encoder to train from")
        if steps < 1:
            raise NetworkError(f"network '{self.name}': a training run needs at least one "
                               f"step (dt = {self.dt * 1e3:g} ms), got {duration!r}")
        object.__setattr__(self, "_train_out",
                           (*self._trainer(inputs, currents, steps), steps))
        sim._step.fill_(steps)
        self._record_training(self._train_out[0])

    def _record_training(self, spikes: Mapping[str, Any]) -> None:
        """Give the spike and rate monitors what the trained layers did in this run
        (detached ``[T, batch, n]`` spikes; state monitors are refused at build)."""
        from snncc.frontend.monitors import (  # monitors.py imports this module
            PopulationRateMonitor,
            SpikeMonitor,
        )

        sim = self.sim
        for name, m in sim.program.monitors.items():
            user = sim._monitors.get(name)
            if not isinstance(user, (SpikeMonitor, PopulationRateMonitor)) \
                    or m.target not in spikes:
                continue
            s = spikes[m.target].detach() > 0.5  # [T, batch, n]
            if isinstance(user, SpikeMonitor):
                d: Any = SpikeData(sim.dt)
                t, b, i = (x.cpu().numpy().astype(np.int64) for x in s.nonzero(as_tuple=True))
                d.columns["steps"].append(t)
                d.columns["indices"].append(i)
                d.columns["batch"].append(b)
            else:
                lo, hi = int(m.record[0]), int(m.record[1])
                d = RateData(sim.dt, sim.program.batch)
                counts = s[..., lo:hi].sum(dim=-1).cpu().numpy().astype(np.int64)
                d.columns["steps"].append(np.arange(counts.shape[0], dtype=np.int64))
                d.columns["counts"].append(counts)
            user._bind(d)

    @property
    def sim(self) -> CompiledNetwork:
        """The simulator made by :meth:`build`."""
        if self._sim is None:
            raise NetworkError(f"network '{self.name}' is not built; call net.build() "
                               "first (or use sim = net.compile())")
        return self._sim

    def build_name(self, obj: NetworkObject) -> str:
        """The name ``obj`` has in the built network (``sim.get(name, var)``)."""
        names = getattr(self, "_sim_names", None) or self._build_names
        if id(obj) not in names:
            raise NetworkError(f"{obj!r} is not a visible member of the built network "
                               f"'{self.name}'; (re)build after adding or showing it")
        return names[id(obj)]

    def run(self, duration: float | Quantity) -> CompiledNetwork:
        """Start from the initial state (learned weights and other parameters kept, see
        :meth:`reset`), feed the encoders' current data and simulate ``duration`` (a
        time; a bare number means ms). Builds with default options if needed."""
        if self._sim is None:
            self.build()
        if getattr(self, "_training", False):
            self._train_run(duration)
            return self.sim
        self.reset()
        return self.sim.run(duration)

    def run_continue(self, duration: float | Quantity) -> CompiledNetwork:
        """Simulate ``duration`` more, continuing from the current state."""
        if self._sim is None:
            self.build()
        if getattr(self, "_training", False):
            raise NetworkError("run_continue is not available in training mode (each "
                               "training run starts from the initial state); use run")
        return self.sim.run(duration)

    def reset(self, keep: Sequence[str] = ()) -> None:
        """Back to the initial state: state variables, synaptic traces, spikes in
        flight, time and recordings; parameters (synaptic weights, per-neuron values,
        whatever learning wrote into them) are kept, and so are the variables named in
        ``keep`` (``"exc.theta"``: build names). Encoders re-apply their data."""
        self.sim.reset_state(keep=keep)
        for node in self.walk():
            if hasattr(node, "_on_reset") and not node.hidden:
                node._on_reset()

    def save_state(self, path: str | os.PathLike | None = None) -> dict[str, Any]:
        """Everything the built network holds (state, parameters, learned weights, RNG
        state, time) as a dict; written to ``path`` with ``torch.save`` if given."""
        state = {"format": "snncc-state", "version": 1, "network": self.name,
                 "state": {k: v.detach().cpu().clone()
                           for k, v in self.sim.state_dict().items()}}
        if path is not None:
            torch.save(state, os.fspath(path))
        return state

    def state_from_dict(self, state: Mapping[str, Any] | None = None,
                        path: str | os.PathLike | None = None) -> None:
        """Load what :meth:`save_state` returned or wrote (give ``state`` or ``path``).
        The network must have the same structure; any difference is an error and
        nothing is changed."""
        if (state is None) == (path is None):
            raise ParameterError("state_from_dict: give state= or path= (one of them)")
        if path is not None:
            try:
                state = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
            except (OSError, RuntimeError, ValueError) as exc:
                raise NetworkError(f"state_from_dict: cannot read {path}: {exc}") from None
        if not isinstance(state, Mapping) or state.get("format") != "snncc-state":
            raise NetworkError("state_from_dict: not a saved snncc state (expected what "
                               "net.save_state() returns)")
        if self._sim is None:
            self.build()
        sd = state.get("state")
        if not isinstance(sd, Mapping):
            raise NetworkError("state_from_dict: the saved state has no 'state' mapping "
                               "(expected what net.save_state() returns)")
        try:
            checked = self.sim.check_state_dict(sd)
        except NetworkError as exc:
            raise NetworkError(f"state_from_dict: the saved state does not fit network "
                               f"'{self.name}': {str(exc).removeprefix('load_state_dict: ')}"
                               ) from None
        self.sim.load_state_dict(checked)


def _refuse_state_monitors(net: Network, sim: CompiledNetwork) -> None:
    """The trained layers keep no per-step state, so a StateMonitor would stay empty in
    training mode: refuse it when the network is built for training."""
    from snncc.frontend.monitors import StateMonitor  # monitors.py imports this module

    for mon in sim._monitors.values():
        if isinstance(mon, StateMonitor):
            raise NetworkError(f"StateMonitor '{mon.path}' of network '{net.name}' would "
                               "record nothing in training mode (the trained layers keep no "
                               "per-step state); remove it or hide it (assembly_hide()) for "
                               "the training build, record spikes with a SpikeMonitor, or "
                               "read states with a Decoder ('final_step_voltage', "
                               "'voltage_sum')")


def _leaves(obj: NetworkObject) -> list[NetworkObject]:
    """What ``obj`` contributes to the build: itself, or (decoders) its monitors."""
    if hasattr(obj, "_build_leaves"):
        return obj._build_leaves()
    return [obj]


# ------------------------------------------------------------------------ groups
class Group(NetworkObject):
    """Anything with neurons that can spike: NeuronGroup, PoissonGroup, ..."""

    _kind = "group"
    size: int
    shape: tuple[int, ...] | None = None  # e.g. (channels, height, width) for conv
    types: tuple[str, ...] = ()  # labels that Projection policies select on

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, item: slice | int) -> Subgroup:
        if isinstance(item, (int, np.integer)):
            item = slice(int(item), int(item) + 1)
        who = self.name or type(self).__name__
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise NetworkError(f"{who}: subgroups are contiguous slices like "
                               "group[10:20]")
        start, stop, _ = item.indices(self.size)
        if stop <= start:
            raise NetworkError(f"{who}[{item.start}:{item.stop}] is empty; give a slice "
                               f"start < stop within the {self.size} neurons")
        return Subgroup(self, start, stop)


def _check_shape(n: object, shape: object, what: str) -> tuple[int, tuple[int, ...] | None]:
    """(size, shape) from ``N`` and/or ``shape``."""
    if shape is None:
        return _check_size(n, what), None
    try:
        shp = tuple(int(k) for k in shape)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ParameterError(f"{what}: shape must be a tuple of positive integers such as "
                             f"(1, 28, 28), got {shape!r}") from None
    if not shp or any(k <= 0 for k in shp):
        raise ParameterError(f"{what}: shape must be a tuple of positive integers, got "
                             f"{shape!r}")
    size = int(np.prod(shp))
    if n is not None and _check_size(n, what) != size:
        raise ShapeError(f"{what}: N={n} but shape {shp} holds {size} neurons; give one "
                         "of them or make them agree")
    return size, shp


def _check_types(types: object, what: str) -> tuple[str, ...]:
    if isinstance(types, str):
        types = (types,)
    try:
        out = tuple(types)  # type: ignore[arg-type]
    except TypeError:
        out = (types,)  # type: ignore[assignment]
    if not all(isinstance(t, str) for t in out):
        raise ParameterError(f"{what}: types must be strings such as ('exc',), got "
                             f"{types!r}")
    return out


def _check_size(n: object, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ParameterError(f"{what}: the number of neurons must be an integer, got {n!r}")
    if n <= 0:
        raise ParameterError(f"{what}: the number of neurons must be positive, got {n}")
    return int(n)


class NeuronGroup(Group):
    """``N`` neurons of one model.

    Args:
        N: number of neurons.
        model: a :class:`NeuronModel`, a library name (``"lif"``, ``"cuba"``, ...), or
            the equations themselves as a string.
        threshold, reset, refractory, method: override the model's.
        params: parameter values (override the model's defaults); a value may be one
            number for all neurons or an array with one value per neuron.
        init: initial values: numbers, arrays, or strings such as
            ``"Vr + rand()*(Vt - Vr)"``.
        shape: the neurons' layout, e.g. ``(channels, height, width)`` for conv
            connections (``N`` may then be None).
        types: labels (``("exc",)``) that :class:`Projection` policies select on.
    """

    _kind = "neurons"

    def __init__(self, N: int | None, model: NeuronModel | str, *,
                 threshold: str | None = None,
                 reset: str | None = None, refractory: float | Quantity | str | None = None,
                 params: Mapping[str, object] | None = None,
                 init: Mapping[str, object] | None = None, method: str | None = None,
                 shape: Sequence[int] | None = None, types: Sequence[str] = (),
                 name: str | None = None) -> None:
        who = f"NeuronGroup {name or ''}".strip()
        self.size, self.shape = _check_shape(N, shape, who)
        self.types = _check_types(types, who)
        self.model = _resolve_model(model, threshold, reset, refractory, method)
        self.params = dict(params or {})
        self.init = dict(init or {})
        check_given(f"{who} (model '{self.model.name}')", self.model.equations, self.params,
                    self.model.parameter_names(), self.init)
        super().__init__(name)

    def __repr__(self) -> str:
        return f"NeuronGroup({self.size}, model={self.model.name!r}, name={self.name!r})"


def _resolve_model(model: NeuronModel | str, threshold: str | None, reset: str | None,
                   refractory: object, method: str | None) -> NeuronModel:
    if isinstance(model, str):
        if model in library.names():
            model = library.get(model)
        elif "=" in model or ":" in model:
            model = NeuronModel(model, name="custom")
        else:
            raise NetworkError(f"unknown model {model!r}; use a NeuronModel, equations, or "
                               f"one of the library names: {', '.join(library.names())}"
                               f"{did_you_mean(model, library.names())}")
    if not isinstance(model, NeuronModel):
        raise NetworkError(f"model must be a NeuronModel, a library name or equations, got "
                           f"{type(model).__name__}")
    if threshold is None and reset is None and refractory is None and method is None:
        return model
    new = dataclasses.replace(
        model, threshold=threshold if threshold is not None else model.threshold,
        reset=reset if reset is not None else model.reset,
        refractory=refractory if refractory is not None else model.refractory,
        method=method if method is not None else model.method, params={})
    # defaults that only the replaced code used (Vt after threshold="v > -40*mV") go
    used = new.parameter_names()
    return dataclasses.replace(new, params={k: v for k, v in model.params.items()
                                            if k in used})


class PoissonGroup(Group):
    """Independent Poisson spike sources.

    Args:
        N: number of sources.
        rates: a rate (``15*Hz``; a bare number means Hz), an array of one rate per
            source, or an expression string of ``t`` and ``i`` such as
            ``"10*Hz*(1 + sin(2*pi*5*Hz*t))"``.
    """

    _kind = "poisson"

    def __init__(self, N: int, rates: float | Quantity | np.ndarray | str,
                 name: str | None = None) -> None:
        who = f"PoissonGroup {name or ''}".strip()
        self.size = _check_size(N, who)
        if not isinstance(rates, str):
            try:
                d = get_dimension(rates)
                np.asarray(get_value(rates), dtype=np.float64)
            except (TypeError, ValueError, UnitError):
                raise ParameterError(f"{who}: rates must be a rate such as 15*Hz, an array of "
                                     f"rates or an expression string, got {rates!r}") from None
            if not d.is_dimensionless and d != Dimension(s=-1):
                raise UnitError(f"{who}: rates must be in Hz (e.g. 15*Hz), got {rates}")
            arr = np.asarray(get_value(rates), dtype=np.float64)
            if arr.ndim not in (0, 1) or (arr.ndim == 1 and arr.shape[0] != self.size):
                raise ShapeError(f"{who}: rates has shape {arr.shape}, "
                                 f"expected one value or shape ({self.size},)")
            if np.any(arr < 0) or not np.all(np.isfinite(arr)):
                raise ParameterError(f"{who}: rates must be finite and >= 0, got "
                                     f"{rates}")
        self.rates = rates
        super().__init__(name)


class SpikeGeneratorGroup(Group):
    """Sources that spike at given times.

    Args:
        N: number of sources.
        indices: source index of each spike.
        times: time of each spike (a bare number means ms).
    """

    _kind = "generator"

    def __init__(self, N: int, indices: Sequence[int] | np.ndarray,
                 times: Sequence[float] | np.ndarray | Quantity, name: str | None = None
                 ) -> None:
        who = f"SpikeGeneratorGroup {name or ''}".strip()
        self.size = _check_size(N, who)
        idx = np.asarray(indices)
        if isinstance(times, Quantity):
            if get_dimension(times) != get_dimension(1e-3 * second):
                raise UnitError(f"{who}: times must be times (e.g. [1, 2]*ms), got "
                                f"{times}")
            secs = np.asarray(get_value(times), dtype=np.float64).reshape(-1)
        else:
            try:
                secs = np.asarray(times, dtype=np.float64).reshape(-1) * 1e-3
            except (TypeError, ValueError):
                raise ParameterError(f"{who}: times must be numbers (ms) or a Quantity such "
                                     f"as [1, 2]*ms, got {times!r}") from None
        if idx.ndim != 1 or idx.shape != secs.shape:
            raise ShapeError(f"{who}: indices {idx.shape} and times {secs.shape} must be "
                             "1-d arrays of the same length (one index per spike time)")
        if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0
                         or idx.max() >= self.size):
            raise ParameterError(f"{who}: indices must be integers in [0, {self.size}), "
                                 f"got {indices!r}")
        if secs.size and secs.min() < 0:
            raise ParameterError(f"{who}: times must be >= 0")
        self.indices = idx.astype(np.int64)
        self.times = secs
        super().__init__(name)


class Subgroup:
    """A contiguous slice ``group[start:stop]`` of a group (not a network member)."""

    def __init__(self, parent: Group, start: int, stop: int) -> None:
        if isinstance(parent, Subgroup):
            start, stop, parent = parent.start + start, parent.start + stop, parent.parent
        self.parent = parent
        self.start = start
        self.stop = stop
        self.size = stop - start

    @property
    def name(self) -> str:
        return f"{self.parent.name}[{self.start}:{self.stop}]"

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, item: slice | int) -> Subgroup:
        sub = Group.__getitem__(self, item)  # type: ignore[arg-type]
        return sub

    def __repr__(self) -> str:
        return f"Subgroup({self.name})"


GroupLike = Group | Subgroup


def split_group(g: GroupLike) -> tuple[Group, int, int]:
    """(parent group, start, stop) of a group or subgroup."""
    if isinstance(g, Subgroup):
        return g.parent, g.start, g.stop
    if isinstance(g, Group):
        return g, 0, g.size
    raise NetworkError(f"expected a neuron group or a slice of one, got {g!r}")


# ------------------------------------------------------------------- connections
class Connection(NetworkObject):
    """Synapses from ``pre`` to ``post``.

    Connectivity (choose one): ``connect="full"`` (default), ``"one_to_one"``,
    probability ``p=0.02``, fixed fan-in ``fan_in=80``, explicit ``i=..., j=...``
    index arrays, or a ``condition="abs(i - j) < 5"`` string (optionally with ``p``).

    Args:
        pre, post: groups or slices of groups.
        model: a :class:`SynapseModel` (per-synapse variables and event code).
        on_pre, on_post: event code (overrides the model's), e.g. ``"ge += we"``.
        params: values of the constants the code uses.
        weight: initial value of the synaptic variable ``w`` (declared if the model
            has none): a number, an array with one value per synapse, or a string.
        init: initial values of other synaptic variables.
        delay: transmission delay: a time (bare number: ms), an array with one per
            synapse, or a string such as ``"1*ms + rand()*2*ms"``.
        link_type: SPAIC's names: ``"full"``, ``"one_to_one"``, ``"sparse"`` (each pair
            with probability ``density``), ``"conv"`` (pre and post groups with
            ``shape=(channels, height, width)``; ``kernel_size``, ``stride``,
            ``padding``; one synapse per kernel tap, each with its own weight).
        w_init, w_init_param: SPAIC's weight initializers (``"uniform"``, ``"normal"``,
            ``"xavier_uniform"``, ``"kaiming_uniform"``, ...; see
            :mod:`snncc.frontend.initializers`); ``w_unit`` their unit.

    With a weight but no ``model``, ``on_pre`` or ``on_post``, the connection does what
    SPAIC's does: each step the weighted spikes are added to the target's membrane
    variable, ``on_pre="v += w"`` (shown by ``describe()``); a target without ``v`` needs
    an explicit ``on_pre``, and a connection with no code and no weight is refused.
    Names in ``params=`` / ``init=`` that the synapses do not use are refused.
    """

    _kind = "synapses"

    def __init__(self, pre: GroupLike, post: GroupLike, model: SynapseModel | None = None, *,
                 on_pre: str | None = None, on_post: str | None = None,
                 params: Mapping[str, object] | None = None, connect: str | None = None,
                 p: float | None = None, i: Sequence[int] | np.ndarray | None = None,
                 j: Sequence[int] | np.ndarray | None = None, condition: str | None = None,
                 fan_in: int | None = None, weight: object = None,
                 init: Mapping[str, object] | None = None, delay: object = None,
                 link_type: str | None = None, density: float | None = None,
                 kernel_size: int | Sequence[int] | None = None,
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                 w_init: str | None = None, w_init_param: Mapping[str, Any] | None = None,
                 w_unit: Any = None, name: str | None = None) -> None:
        self.pre = pre
        self.post = post
        split_group(pre)
        split_group(post)
        who = f"Connection {name or ''}".strip()
        self.kernel = None
        if link_type is not None:
            connect, p, i, j = self._link_type(link_type, connect, p, i, j, density,
                                               kernel_size, stride, padding, who)
        elif density is not None or kernel_size is not None:
            raise ParameterError(f"{who}: density= and kernel_size= go with "
                                 "link_type='sparse' / 'conv'")
        if w_init is not None:
            if weight is not None:
                raise ParameterError(f"{who}: give weight= or w_init= (one of them)")
            weight = from_spaic(w_init, w_init_param, unit=w_unit, who=who)
        elif w_init_param is not None:
            raise ParameterError(f"{who}: w_init_param= needs w_init= (e.g. 'normal')")
        self._set_connectivity(connect, p, i, j, condition, fan_in, name)
        if model is None and on_pre is None and on_post is None:
            on_pre = _spaic_on_pre(post, weight, who)
        if model is None:
            model = SynapseModel(name="synapse")
        if not isinstance(model, SynapseModel):
            who = f"Connection {name or ''}".strip()
            raise NetworkError(f"{who}: model must be a "
                               f"SynapseModel, got {type(model).__name__}; pass the code "
                               "as on_pre=/on_post= or build a SynapseModel")
        if on_pre is not None or on_post is not None:
            new = SynapseModel(model.equations.text,
                               on_pre if on_pre is not None else model.on_pre,
                               on_post if on_post is not None else model.on_post,
                               model.delay, {}, model.method, model.name, model.doc)
            # defaults that only the replaced code used go
            used = new.parameter_names()
            new.params = {k: v for k, v in model.params.items() if k in used}
            model = new
        self.model = model
        self.params = dict(params or {})
        self.init = dict(init or {})
        self.weight = weight
        self.delay = delay if delay is not None else model.delay
        self._check_names(who)
        super().__init__(name)

    def _check_names(self, who: str) -> None:
        """Every name in params= and init= is one the synapses use."""
        eqs = self.model.equations
        known = self.model.parameter_names()
        for code in (self.weight, self.delay, *self.init.values()):
            if isinstance(code, str):
                try:
                    known |= Expression(code).names()
                except SnnccError:
                    pass  # reported where it is lowered, with its place
        where = f"{who} (synapse model '{self.model.name}')"
        check_names(where, "parameter", [k for k in self.params if k not in eqs.equations],
                    known, fix="params= sets the synapse model's parameters and the "
                    "constants its code uses")
        variables = [e.name for e in (*eqs.diff, *eqs.parameters)]
        check_names(where, "initial value", self.init,
                    [*variables, *(["w"] if self.weight is not None else [])],
                    fix="init= sets synaptic variables; declare others in the synapse model "
                    "(e.g. 'x : volt')")

    def _link_type(self, link_type: str, connect: str | None, p: float | None, i: Any,
                   j: Any, density: float | None, kernel_size: Any, stride: Any,
                   padding: Any, who: str) -> tuple[str | None, float | None, Any, Any]:
        """Translate SPAIC's ``link_type`` into connect= / p= / explicit pairs."""
        known = ("full", "one_to_one", "sparse", "conv")
        if link_type not in known:
            raise ParameterError(f"{who}: unknown link_type {link_type!r}; use one of "
                                 f"{', '.join(known)}{did_you_mean(str(link_type), known)}")
        if connect is not None or i is not None or j is not None:
            raise ParameterError(f"{who}: give link_type= or connect=/i=/j= (one of them)")
        if link_type != "sparse" and density is not None:
            raise ParameterError(f"{who}: density= goes with link_type='sparse'")
        if link_type != "conv" and kernel_size is not None:
            raise ParameterError(f"{who}: kernel_size= goes with link_type='conv'")
        if link_type in ("full", "one_to_one"):
            return link_type, p, None, None
        if link_type == "sparse":
            if density is None:
                raise ParameterError(f"{who}: link_type='sparse' needs density= (the "
                                     "probability of each pair, e.g. 0.1)")
            if p is not None:
                raise ParameterError(f"{who}: give density= or p= (one of them)")
            return None, density, None, None
        pre_g, a0, a1 = split_group(self.pre)
        post_g, b0, b1 = split_group(self.post)
        if kernel_size is None:
            raise ParameterError(f"{who}: link_type='conv' needs kernel_size=")
        if p is not None:
            raise ParameterError(f"{who}: p= does not go with link_type='conv'")
        for side, g, lo, hi in (("pre", pre_g, a0, a1), ("post", post_g, b0, b1)):
            if g.shape is None or len(g.shape) != 3 or (lo, hi) != (0, g.size):
                raise ShapeError(f"{who}: link_type='conv' needs a whole {side} group with "
                                 "shape=(channels, height, width); got "
                                 f"{g.shape if g.shape is not None else 'no shape'}")
        ii, jj, kidx, kshape = pairs_conv(pre_g.shape, post_g.shape, kernel_size, stride,
                                          padding, who)
        self.kernel = (kshape, kidx)
        return None, p, ii, jj

    def _set_connectivity(self, connect: str | None, p: float | None, i: object, j: object,
                          condition: str | None, fan_in: int | None, name: str | None) -> None:
        who = f"Connection {name or ''}".strip()
        kinds = [k for k, v in (("connect", connect), ("i/j", i if i is not None else j),
                                ("fan_in", fan_in)) if v is not None]
        if len(kinds) > 1:
            raise NetworkError(f"{who}: give one of connect=, i=/j=, fan_in= (got "
                               f"{', '.join(kinds)})")
        if (i is None) != (j is None):
            raise NetworkError(f"{who}: explicit connectivity needs both i= and j=")
        if p is not None and (not isinstance(p, (int, float)) or not 0 <= p <= 1):
            raise ParameterError(f"{who}: p must be a probability in [0, 1], got {p!r}")
        if fan_in is not None and (isinstance(fan_in, bool) or not isinstance(
                fan_in, (int, np.integer)) or fan_in < 0):
            raise ParameterError(f"{who}: fan_in must be a non-negative integer, got "
                                 f"{fan_in!r}")
        _, a0, a1 = split_group(self.pre)
        _, b0, b1 = split_group(self.post)
        if fan_in is not None and fan_in > a1 - a0:
            raise ParameterError(f"{who}: fan_in={fan_in} exceeds the {a1 - a0} presynaptic "
                                 "neurons")
        if connect is not None and connect not in ("full", "one_to_one"):
            raise ParameterError(f"{who}: connect must be 'full' or 'one_to_one', got "
                                 f"{connect!r}{did_you_mean(str(connect), ('full', 'one_to_one'))}"
                                 "; use p=, fan_in=, condition= or i=/j= for other patterns")
        if connect == "one_to_one" and (a1 - a0) != (b1 - b0):
            raise ShapeError(f"{who}: one_to_one needs groups of equal size, got "
                             f"{a1 - a0} and {b1 - b0}")
        if i is not None:
            ia, ja = np.asarray(i), np.asarray(j)
            if ia.ndim != 1 or ja.shape != ia.shape:
                raise ShapeError(f"{who}: i and j must be 1-d arrays of the same length, got "
                                 f"shapes {ia.shape} and {ja.shape}")
            if ia.size and not (np.issubdtype(ia.dtype, np.integer)
                                and np.issubdtype(ja.dtype, np.integer)):
                raise ParameterError(f"{who}: i and j must be integer arrays")
            if ia.size and (ia.min() < 0 or ia.max() >= a1 - a0):
                raise ParameterError(f"{who}: i has values outside [0, {a1 - a0}) (the "
                                     "presynaptic group)")
            if ja.size and (ja.min() < 0 or ja.max() >= b1 - b0):
                raise ParameterError(f"{who}: j has values outside [0, {b1 - b0}) (the "
                                     "postsynaptic group)")
            # a copy (the caller may change its arrays), int32 where the groups allow:
            # 4 bytes per synapse and end
            kind = ir.index_dtype(max(a1 - a0, b1 - b0))
            self.i, self.j = ia.astype(kind), ja.astype(kind)
        else:
            self.i = self.j = None
        self.connect = connect if connect is not None else (
            "explicit" if i is not None else "fan_in" if fan_in is not None else "full")
        self.p = p
        self.fan_in = fan_in
        self.condition = condition


def _spaic_on_pre(post: GroupLike, weight: object, who: str) -> str:
    """SPAIC's default synapse: each step the weighted spikes are added to the target's
    membrane variable ``v`` (SPAIC's ``V = tau*V + I`` with ``I = W s``): ``v += w``.
    Refused where there is no weight or no ``v`` to add to."""
    g, _, _ = split_group(post)
    model = getattr(g, "model", None)
    has_v = model is not None and any(e.name == "v" for e in model.equations.diff)
    if weight is None:
        raise ParameterError(f"{who}: no on_pre code, no synapse model and no weight: the "
                             "connection would do nothing; give on_pre= (e.g. on_pre='v += "
                             "w' with weight=...) or SPAIC's w_init= (then on_pre='v += w' "
                             "is the default)")
    if not has_v:
        what = f"model '{model.name}'" if model is not None else type(g).__name__
        raise ParameterError(f"{who}: no on_pre code was given, and the target group "
                             f"'{g.name}' ({what}) has no membrane variable 'v' that SPAIC's "
                             "default synapse adds the weighted spikes to; give on_pre= "
                             "naming the target's input variable (e.g. on_pre='I += w')")
    return "v += w  # SPAIC's default: the weighted spikes into the target's v"


# --------------------------------------------------------------------- monitors
class Monitor(NetworkObject):
    """Base of monitors; data is available after ``sim.run``."""

    _kind = "monitor"
    _data: Any = None

    def _bind(self, data: Any) -> None:
        self._data = data

    def _need(self) -> Any:
        if self._data is None:
            raise NetworkError(f"{type(self).__name__} {self.name!r} has no data: compile the "
                               "network and run it first")
        return self._data
