"""Network objects: the user-facing description of a spiking network.

Objects created inside ``with net:`` (anywhere: a function, a test, a notebook) or
assigned as attributes of a :class:`Network` subclass belong to that network.
``net.compile()`` lowers them to the IR, runs the passes and returns a runnable
:class:`~snncc.runtime.CompiledNetwork`.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from snncc.errors import NetworkError, ParameterError, ShapeError, UnitError
from snncc.frontend.models import NeuronModel, SynapseModel
from snncc.units import Quantity, time_to_seconds

if TYPE_CHECKING:
    from snncc.runtime.network import CompiledNetwork

_context = threading.local()


def _stack() -> list[Network]:
    if not hasattr(_context, "stack"):
        _context.stack = []
    return _context.stack


def current_network() -> Network | None:
    """The network of the innermost active ``with net:`` block, if any."""
    st = _stack()
    return st[-1] if st else None


class NetworkObject:
    """Base of everything that can belong to a network."""

    _kind = "object"

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.network: Network | None = None
        net = current_network()
        if net is not None:
            net.add(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Network:
    """A spiking network.

    Args:
        dt: time step (a time; a bare number means ms). Default 0.1 ms.
        seed: fixes initial values, connectivity, Poisson input and noise.
        name: shown in generated code.

    Build it with ``with net:`` or by subclassing and assigning members in
    ``__init__``; then ``sim = net.compile(backend="torch", device="cpu")``.
    """

    def __init__(self, dt: float | Quantity = 0.1, seed: int | None = None,
                 name: str = "net") -> None:
        object.__setattr__(self, "_objects", [])
        object.__setattr__(self, "_names", set())
        self.dt = time_to_seconds(dt, "Network dt")
        if not self.dt > 0:
            raise ParameterError(f"Network dt must be > 0, got {dt}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ParameterError(f"Network seed must be a non-negative integer, got {seed!r}")
        self.seed = seed
        self.name = name

    # ------------------------------------------------------------- membership
    def __enter__(self) -> Network:
        _stack().append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        st = _stack()
        if st and st[-1] is self:
            st.pop()
        # name unnamed members after the variables they were assigned to in the block
        frame = sys._getframe(1)
        try:
            for var, value in list(frame.f_locals.items()):
                if (isinstance(value, NetworkObject) and value.network is self
                        and value.name is None and var.isidentifier()
                        and not var.startswith("_")):
                    value.name = var
        finally:
            del frame

    def __setattr__(self, key: str, value: Any) -> None:
        if isinstance(value, NetworkObject):
            if value.name is None:
                value.name = key
            if value.network is not self:
                self.add(value)
        object.__setattr__(self, key, value)

    def add(self, *objects: NetworkObject) -> None:
        """Add objects (groups, connections, monitors) to the network."""
        for obj in objects:
            if not isinstance(obj, NetworkObject):
                raise NetworkError(f"{self.name}: cannot add {obj!r}; expected a group, "
                                   "connection or monitor")
            if obj.network is self:
                continue
            if obj.network is not None:
                raise NetworkError(f"{obj!r} already belongs to network "
                                   f"'{obj.network.name}'")
            obj.network = self
            self._objects.append(obj)

    def _assign_names(self) -> None:
        used: set[str] = set()
        counters: dict[str, int] = {}
        for obj in self._objects:
            if obj.name is None:
                base = obj._kind
                k = counters.get(base, 0)
                while f"{base}_{k}" in used:
                    k += 1
                counters[base] = k + 1
                obj.name = f"{base}_{k}"
            if not obj.name.isidentifier():
                raise NetworkError(f"name {obj.name!r} of {type(obj).__name__} must be a "
                                   "Python identifier (letters, digits, _)")
            if obj.name in used:
                raise NetworkError(f"two objects in network '{self.name}' are named "
                                   f"{obj.name!r}; give them different names")
            used.add(obj.name)

    @property
    def objects(self) -> list[NetworkObject]:
        return list(self._objects)

    def groups(self) -> list[Group]:
        return [o for o in self._objects if isinstance(o, Group)]

    # --------------------------------------------------------------- compile
    def compile(self, backend: str = "auto", device: str | None = None,
                dtype: Any = None, batch: int = 1, **options: Any) -> CompiledNetwork:
        """Lower, optimise and generate code; returns a runnable ``nn.Module``.

        Args:
            backend: ``"torch"`` (any device) or ``"auto"``.
            device: torch device; default ``"cpu"``.
            dtype: ``torch.float32`` (default) or ``torch.float64``.
            batch: number of independent copies simulated side by side.
        """
        from snncc.runtime.network import CompiledNetwork

        return CompiledNetwork.from_network(self, backend=backend, device=device,
                                            dtype=dtype, batch=batch, **options)

    def lower(self, batch: int = 1):  # noqa: ANN201 - returns ir.Program
        """The IR of this network, before passes (for inspection and tests)."""
        from snncc.frontend.lower import lower_network

        return lower_network(self, batch=batch)


# ------------------------------------------------------------------------ groups
class Group(NetworkObject):
    """Anything with neurons that can spike: NeuronGroup, PoissonGroup, ..."""

    _kind = "group"
    size: int

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
    """

    _kind = "neurons"

    def __init__(self, N: int, model: NeuronModel | str, *, threshold: str | None = None,
                 reset: str | None = None, refractory: float | Quantity | str | None = None,
                 params: Mapping[str, object] | None = None,
                 init: Mapping[str, object] | None = None, method: str | None = None,
                 name: str | None = None) -> None:
        self.size = _check_size(N, f"NeuronGroup {name or ''}".strip())
        self.model = _resolve_model(model, threshold, reset, refractory, method)
        self.params = dict(params or {})
        self.init = dict(init or {})
        super().__init__(name)

    def __repr__(self) -> str:
        return f"NeuronGroup({self.size}, model={self.model.name!r}, name={self.name!r})"


def _resolve_model(model: NeuronModel | str, threshold: str | None, reset: str | None,
                   refractory: object, method: str | None) -> NeuronModel:
    from snncc.frontend import library

    if isinstance(model, str):
        if model in library.names():
            model = library.get(model)
        elif "=" in model or ":" in model:
            model = NeuronModel(model, name="custom")
        else:
            raise NetworkError(f"unknown model {model!r}; use a NeuronModel, equations, or "
                               f"one of the library names: {', '.join(library.names())}")
    if not isinstance(model, NeuronModel):
        raise NetworkError(f"model must be a NeuronModel, a library name or equations, got "
                           f"{type(model).__name__}")
    if threshold is None and reset is None and refractory is None and method is None:
        return model
    return dataclasses.replace(
        model, threshold=threshold if threshold is not None else model.threshold,
        reset=reset if reset is not None else model.reset,
        refractory=refractory if refractory is not None else model.refractory,
        method=method if method is not None else model.method)


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
            from snncc.units import Dimension, get_dimension, get_value

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
        from snncc.units import get_dimension, get_value

        idx = np.asarray(indices)
        if isinstance(times, Quantity):
            if get_dimension(times) != get_dimension(1e-3 * _second()):
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


def _second() -> Quantity:
    from snncc.units import second

    return second


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
    """

    _kind = "synapses"

    def __init__(self, pre: GroupLike, post: GroupLike, model: SynapseModel | None = None, *,
                 on_pre: str | None = None, on_post: str | None = None,
                 params: Mapping[str, object] | None = None, connect: str | None = None,
                 p: float | None = None, i: Sequence[int] | np.ndarray | None = None,
                 j: Sequence[int] | np.ndarray | None = None, condition: str | None = None,
                 fan_in: int | None = None, weight: object = None,
                 init: Mapping[str, object] | None = None, delay: object = None,
                 name: str | None = None) -> None:
        self.pre = pre
        self.post = post
        split_group(pre)
        split_group(post)
        if model is None:
            model = SynapseModel(name="synapse")
        if not isinstance(model, SynapseModel):
            who = f"Connection {name or ''}".strip()
            raise NetworkError(f"{who}: model must be a "
                               f"SynapseModel, got {type(model).__name__}; pass the code "
                               "as on_pre=/on_post= or build a SynapseModel")
        if on_pre is not None or on_post is not None:
            model = SynapseModel(model.equations.text,
                                 on_pre if on_pre is not None else model.on_pre,
                                 on_post if on_post is not None else model.on_post,
                                 model.delay, model.params, model.method, model.name,
                                 model.doc)
        self.model = model
        self.params = dict(params or {})
        self.init = dict(init or {})
        self.weight = weight
        self.delay = delay if delay is not None else model.delay
        self._set_connectivity(connect, p, i, j, condition, fan_in, name)
        super().__init__(name)

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
                                 f"{connect!r}; use p=, fan_in=, condition= or i=/j= for "
                                 "other patterns")
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
            self.i, self.j = ia.astype(np.int64), ja.astype(np.int64)
        else:
            self.i = self.j = None
        self.connect = connect if connect is not None else (
            "explicit" if i is not None else "fan_in" if fan_in is not None else "full")
        self.p = p
        self.fan_in = fan_in
        self.condition = condition


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
