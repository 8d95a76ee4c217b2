"""SPAIC's ``Node`` family: encoders turn data into spikes (or a current) inside the
network, decoders turn what a group did during a run into an output tensor,
generators are inputs with fixed rates or currents.

Encoders are neuron groups whose models are equation strings, so they compile through
the same code generators as every other group (on every backend) and their randomness
comes from the network's seeded generator::

    net = sc.Network(dt=1*ms, seed=0)
    with net:
        inp = sc.Encoder(shape=(1, 8, 8), coding="poisson", max_rate=100*Hz)
        hid = sc.NeuronGroup(64, "lif")
        sc.Connection(inp, hid, on_pre="v += w", w_init="uniform",
                      w_init_param={"a": 0, "b": 2}, w_unit=mV)
        out = sc.Decoder(hid, "spike_counts")
    net.build(batch=16)
    inp(images)                 # [16, 1, 8, 8] or [16, 64], values in [0, 1]
    net.run(100*ms)             # each run starts from the initial state
    counts = out.predict        # torch tensor [16, 64]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from snncc.errors import (
    NetworkError,
    ParameterError,
    ShapeError,
    UnitError,
    check_names,
    did_you_mean,
)
from snncc.frontend.models import NeuronModel
from snncc.frontend.monitors import SpikeMonitor, StateMonitor
from snncc.frontend.network import Group, GroupLike, NeuronGroup, _check_shape, split_group
from snncc.frontend.objects import NetworkObject, detached
from snncc.units import Dimension, Hz, Quantity, get_dimension, get_value, ms, second

CODINGS = ("poisson", "bernoulli", "latency", "rate", "constant_current")
DECODINGS = ("spike_counts", "spike_rate", "first_spike", "final_step_voltage",
             "voltage_sum")


def _rate(value: object, what: str) -> Any:
    d = get_dimension(value)
    if d.is_dimensionless:
        value = float(get_value(value)) * Hz  # a bare number means Hz
    elif d != Dimension(s=-1):
        raise UnitError(f"{what} must be a rate such as 100*Hz, got {value}")
    if not float(get_value(value)) > 0:
        raise ParameterError(f"{what} must be > 0, got {value}")
    return value


def _time(value: object, what: str) -> Any:
    d = get_dimension(value)
    if d.is_dimensionless:
        value = float(get_value(value)) * ms  # a bare number means ms
    elif d != Dimension(s=1):
        raise UnitError(f"{what} must be a time such as 20*ms, got {value}")
    if not float(get_value(value)) > 0:
        raise ParameterError(f"{what} must be > 0, got {value}")
    return value


def _coding(coding: str | None, coding_method: str | None, known: Sequence[str],
            who: str) -> str:
    if coding_method is not None:
        coding = coding_method  # SPAIC's name for it
    name = str(coding).replace("_generator", "") if coding is not None else None
    if name == "cc":
        name = "constant_current"
    if name not in known:
        raise ParameterError(f"{who}: unknown coding {coding!r}; use one of "
                             f"{', '.join(known)}{did_you_mean(str(coding), known)}")
    return name


# the codings each option goes with (an option given for another coding would be ignored)
_OPTION_CODINGS = {"max_rate": ("poisson", "rate"), "max_prob": ("bernoulli",),
                   "window": ("latency",), "target": ("constant_current",),
                   "variable": ("constant_current",), "amplitude": ("constant_current",)}


def _options_fit(who: str, coding: str, **given: object) -> None:
    """Refuse an option that the coding does not use (it would be silently ignored)."""
    for key, value in given.items():
        if value is not None and coding not in _OPTION_CODINGS[key]:
            uses = " / ".join(repr(c) for c in _OPTION_CODINGS[key])
            raise ParameterError(f"{who}: {key}= goes with coding={uses}, not "
                                 f"coding={coding!r}, where it would do nothing; remove it "
                                 "or change the coding")


class Encoder(NeuronGroup):
    """Input neurons that encode data, given per run with ``encoder(data)``.

    Codings (``x = data*scale`` per neuron):

    - ``"poisson"``: each step spikes with probability ``x*max_rate*dt`` (``x`` >= 0).
    - ``"bernoulli"``: each step spikes with probability ``x*max_prob`` (0 <= x <= 1).
    - ``"rate"``: regular spikes at ``x*max_rate`` (a phase accumulator; no noise): a
      neuron spikes ``floor(x*max_rate*T)`` times in ``T``.
    - ``"latency"``: one spike at ``(1 - x)*window`` after the data arrives, the
      strongest input first; ``x = 0`` never spikes (0 <= x <= 1).
    - ``"constant_current"``: no spikes; ``x*amplitude`` is written into the variable
      ``variable`` of the group ``target`` and held while the data stays.

    Args:
        num, shape: the number of neurons, or their layout (``(1, 28, 28)``).
        coding: one of the above (SPAIC's ``coding_method=`` is accepted too).
        max_rate: Hz (a bare number means Hz); max_prob: per step; window: a time (a bare
            number means ms); scale: multiplies the data; amplitude: the current (or any
            quantity of ``target.variable``'s unit) for ``x = 1``.

    An option of another coding (``max_prob=`` with ``coding="poisson"``) is refused.
    """

    _kind = "encoder"

    def __init__(self, num: int | None = None, shape: Sequence[int] | None = None,
                 coding: str | None = "poisson", *, coding_method: str | None = None,
                 max_rate: float | Quantity | None = None, max_prob: float | None = None,
                 window: float | Quantity | None = None, scale: float = 1.0,
                 target: GroupLike | None = None, variable: str | None = None,
                 amplitude: float | Quantity | None = None,
                 types: Sequence[str] = ("input",), name: str | None = None) -> None:
        who = f"{type(self).__name__} {name or ''}".strip()
        self.coding = _coding(coding, coding_method, CODINGS, who)
        _options_fit(who, self.coding, max_rate=max_rate, max_prob=max_prob, window=window,
                     target=target, variable=variable, amplitude=amplitude)
        max_rate = 100 * Hz if max_rate is None else max_rate
        max_prob = 1.0 if max_prob is None else max_prob
        window = 20 * ms if window is None else window
        variable = "I" if variable is None else variable
        amplitude = 1.0 if amplitude is None else amplitude
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ParameterError(f"{who}: scale must be a number > 0, got {scale!r}")
        self.scale = float(scale)
        self.target = None
        self.variable = variable
        self.amplitude = amplitude
        if self.coding == "constant_current":
            if target is None:
                raise ParameterError(f"{who}: coding='constant_current' needs target= (the "
                                     "group whose variable receives the current) and "
                                     "variable= (default 'I')")
            tg, _, _ = split_group(target)
            if not isinstance(tg, NeuronGroup):
                raise NetworkError(f"{who}: target must be a NeuronGroup, got {tg!r}")
            if num is None and shape is None:
                num = len(target)
            self.target = target
        size, _ = _check_shape(num, shape, who)
        params: dict[str, object] = {}
        x0 = np.zeros(size)
        if self.coding == "poisson":
            self.max_rate = _rate(max_rate, f"{who}: max_rate")
            model = NeuronModel("x : 1", threshold="rand() < x*max_rate*dt",
                                params={"max_rate": self.max_rate}, name="poisson_encoder")
        elif self.coding == "bernoulli":
            if isinstance(max_prob, bool) or not 0 < float(max_prob) <= 1:
                raise ParameterError(f"{who}: max_prob must be in (0, 1], got {max_prob!r}")
            self.max_prob = float(max_prob)
            model = NeuronModel("x : 1", threshold="rand() < x*max_prob",
                                params={"max_prob": self.max_prob}, name="bernoulli_encoder")
        elif self.coding == "rate":
            self.max_rate = _rate(max_rate, f"{who}: max_rate")
            # the tolerance keeps rounding of the accumulated phase from delaying a spike
            model = NeuronModel("dphase/dt = x*max_rate : 1\nx : 1",
                                threshold="phase >= 1 - 1e-6",
                                reset="phase -= 1", params={"max_rate": self.max_rate},
                                name="rate_encoder")
        elif self.coding == "latency":
            self.window = _time(window, f"{who}: window")
            model = NeuronModel(
                "x : 1\nt0 : second\nfired : 1",
                threshold="fired < 0.5 and x > 0 and t >= t0 + (1 - x)*window - 0.5*dt",
                reset="fired = 1", params={"window": self.window}, name="latency_encoder")
        else:
            model = NeuronModel("x : 1", name="current_encoder")
        init: dict[str, object] = {"x": x0}
        if self.coding == "latency":
            init.update(t0=np.zeros(size) * second, fired=np.zeros(size))
        super().__init__(num, model, shape=shape, params=params, init=init, types=types,
                         name=name)
        self.data: np.ndarray | None = None

    # the constant-current encoder is no population of its own
    @property
    def lowers(self) -> bool:  # noqa: D102
        return self.coding != "constant_current"

    def __repr__(self) -> str:
        return f"Encoder({self.size}, coding={self.coding!r}, name={self.name!r})"

    def __call__(self, data: Any) -> None:
        """Give the data of the next run: shape ``(N,)``, the encoder's ``shape``, or
        either with a leading batch dimension (one row per batch copy of the network);
        a numpy array or a torch tensor. Applied at once if the network is built."""
        who = f"Encoder '{self.name}'"
        if isinstance(data, torch.Tensor):
            data = data.detach().to("cpu", torch.float64).numpy()
        try:
            arr = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"{who}: data must be numbers (an array or a tensor), got "
                                 f"{type(data).__name__}") from None
        n = self.size
        def squeezed(shape: Sequence[int]) -> tuple[int, ...]:
            return tuple(k for k in shape if k != 1)

        if arr.size == n and (arr.ndim <= 1 or (self.shape is not None and
                                                squeezed(arr.shape) == squeezed(self.shape))):
            arr = arr.reshape(1, n)  # one sample, e.g. (28, 28) for shape (1, 28, 28)
        elif arr.ndim >= 2 and int(np.prod(arr.shape[1:])) == n:
            arr = arr.reshape(arr.shape[0], n)
        else:
            raise ShapeError(f"{who}: data of shape {arr.shape} does not fit {n} neurons"
                             f"{' of shape ' + str(self.shape) if self.shape else ''}; give "
                             f"({n},) or (batch, {n})")
        if not np.all(np.isfinite(arr)):
            raise ParameterError(f"{who}: data contains NaN or infinite values")
        x = arr * self.scale
        if self.coding != "constant_current" and x.size and x.min() < 0:
            raise ParameterError(f"{who}: {self.coding} coding needs data*scale >= 0, got a "
                                 f"minimum of {x.min():g}")
        if self.coding in ("bernoulli", "latency") and x.size and x.max() > 1:
            raise ParameterError(f"{who}: {self.coding} coding needs data*scale in [0, 1], "
                                 f"got a maximum of {x.max():g}; normalise the data or set "
                                 f"scale= (e.g. scale=1/255 for 8-bit images)")
        if self.coding in ("poisson", "rate") and self.network is not None and x.size:
            p = x.max() * float(get_value(self.max_rate)) * self.network.dt
            if p > 1:
                raise ParameterError(f"{who}: data*scale*max_rate*dt reaches {p:g} > 1 (more "
                                     "than one spike per step); lower max_rate or scale, or "
                                     "use a smaller dt")
        self.data = x
        net = self.network
        if net is not None and net._sim is not None and not self.hidden:
            self._write()

    # ------------------------------------------------------------ build hooks
    def _prepare_build(self, copies: dict[int, NetworkObject]) -> None:
        """A constant-current target keeps ``variable`` per neuron (so it is not folded
        into the code as a constant)."""
        if self.coding != "constant_current" or self.hidden:
            return
        tg, _, _ = split_group(self.target)  # type: ignore[arg-type]
        who = f"Encoder '{self.name}'"
        if id(tg) not in copies:
            raise NetworkError(f"{who}: its target '{tg.name}' is not a visible group of "
                               "this network")
        eqs = tg.model.equations.equations
        if self.variable not in eqs or eqs[self.variable].kind != "param" or \
                "shared" in eqs[self.variable].flags:
            raise NetworkError(f"{who}: group '{tg.name}' (model '{tg.model.name}') has no "
                               f"per-neuron parameter '{self.variable}' to drive; declare "
                               f"it in the model (e.g. '{self.variable} : amp') or pass "
                               "variable=")
        c = copies[id(tg)]
        value = c.params.get(self.variable, tg.model.params.get(self.variable))
        if value is None:  # not given: 0 in the variable's unit
            dim = eqs[self.variable].dim
            value = (Quantity(0.0, dim) if isinstance(dim, Dimension)
                     and not dim.is_dimensionless else 0.0)
        if np.ndim(get_value(value)) == 0:
            c.params[self.variable] = value * np.ones(tg.size)

    def _on_build(self) -> None:
        if self.data is not None:
            self._write()

    def _on_reset(self) -> None:
        if self.data is not None:
            self._write()

    def _write(self) -> None:
        net = self.network
        assert net is not None
        sim = net.sim
        B = sim.program.batch
        x = self.data
        assert x is not None
        if x.shape[0] not in (1, B):
            raise ShapeError(f"Encoder '{self.name}': data has {x.shape[0]} rows but the "
                             f"network was built with batch={B}; give {B} rows (one per "
                             "batch copy) or a single row")
        t = torch.as_tensor(x)
        if self.coding == "constant_current":
            tg, lo, hi = split_group(self.target)  # type: ignore[arg-type]
            amp = self.amplitude
            buf = sim.get(net.build_name(tg), self.variable)
            buf[:, lo:hi] = (t * float(get_value(amp))).to(buf)
            return
        name = net.build_name(self)
        buf = sim.get(name, "x")
        buf.copy_(t.to(buf).expand_as(buf))
        if self.coding == "latency":
            sim.get(name, "fired").zero_()
            sim.get(name, "t0").fill_(sim.t)
        elif self.coding == "rate":
            sim.get(name, "phase").zero_()


class Generator(Encoder):
    """An input without data: Poisson (``coding="poisson"``) or regular (``"rate"``)
    spikes at ``rate``, or ``"constant_current"``: ``amplitude`` into ``target``'s
    ``variable``. SPAIC's ``poisson_generator`` / ``cc_generator`` names work too."""

    _kind = "generator"

    def __init__(self, num: int | None = None, shape: Sequence[int] | None = None,
                 coding: str | None = "poisson", *, coding_method: str | None = None,
                 rate: float | Quantity | None = None,
                 amplitude: float | Quantity | None = None, target: GroupLike | None = None,
                 variable: str | None = None, types: Sequence[str] = ("input",),
                 name: str | None = None) -> None:
        who = f"Generator {name or ''}".strip()
        kind = _coding(coding, coding_method, ("poisson", "rate", "constant_current"), who)
        _options_fit(who, kind, max_rate=rate)  # rate: the spiking codings' max_rate
        if rate is None and kind != "constant_current":
            rate = 20 * Hz
        super().__init__(num, shape, kind, max_rate=rate, target=target, variable=variable,
                         amplitude=amplitude, types=types, name=name)
        self.rate = rate
        self.data = np.ones((1, self.size))

    def __repr__(self) -> str:
        return f"Generator({self.size}, coding={self.coding!r}, name={self.name!r})"


class Decoder(NetworkObject):
    """What a group did in the last run, as a tensor ``[batch, neurons]`` (``predict``).

    Decodings: ``"spike_counts"``; ``"spike_rate"`` (Hz); ``"first_spike"`` (the time of
    each neuron's first spike in seconds, ``inf`` if it did not spike);
    ``"final_step_voltage"`` (``variable`` after the last step); ``"voltage_sum"``
    (the sum of ``variable`` after each step). The run is everything since the last
    ``net.run`` / ``net.reset``, ``run_continue`` included.
    """

    _kind = "decoder"

    def __init__(self, target: GroupLike, coding: str | None = "spike_counts", *,
                 coding_method: str | None = None, variable: str = "v",
                 name: str | None = None) -> None:
        who = f"Decoder {name or ''}".strip()
        self.coding = _coding(coding, coding_method, DECODINGS, who)
        g, _, _ = split_group(target)
        if not isinstance(g, Group):
            raise NetworkError(f"{who}: target must be a group, got {target!r}")
        if self.coding in ("final_step_voltage", "voltage_sum"):
            model = getattr(g, "model", None)
            if model is None:
                raise NetworkError(f"{who}: coding={self.coding!r} reads a variable, but "
                                   f"'{g.name}' ({type(g).__name__}) has none; decode its "
                                   "spikes (e.g. 'spike_counts')")
            eqs = model.equations
            check_names(f"{who} (group '{g.name}', model '{model.name}')", "variable",
                        [variable], [e.name for e in (*eqs.diff, *eqs.parameters)],
                        fix="variable= names a state variable of the target's model")
        elif variable != "v":
            raise ParameterError(f"{who}: variable= goes with coding='final_step_voltage' or "
                                 f"'voltage_sum', not {self.coding!r}, where it would do "
                                 "nothing; remove it")
        self.target = target
        self.variable = variable
        self._data: Any = None
        super().__init__(name)

    def _build_leaves(self) -> list[NetworkObject]:
        with detached():
            if self.coding in ("spike_counts", "spike_rate", "first_spike"):
                return [SpikeMonitor(self.target, name="spikes")]
            if self.coding == "voltage_sum":
                return [StateMonitor(self.target, self.variable, name=self.variable)]
        return []

    def _bind(self, data: Any) -> None:
        self._data = data

    def _sim(self) -> Any:
        net = self.network
        if net is None or net._sim is None:
            raise NetworkError(f"Decoder '{self.name}' has no data: build the network "
                               "(net.build()) and run it first")
        return net.sim

    @property
    def predict(self) -> torch.Tensor:
        """The decoded output, ``[batch, neurons]``, on the network's device."""
        sim = self._sim()
        g, lo, hi = split_group(self.target)
        B = sim.program.batch
        name = self.network.build_name(g)  # type: ignore[union-attr]
        if getattr(self.network, "_training", False):
            return self._train_predict(name, lo, hi)
        if self.coding == "final_step_voltage":
            return sim.get(name, self.variable)[:, lo:hi].detach().clone()
        d = self._data
        if d is None:
            raise NetworkError(f"Decoder '{self.name}': no recording; (re)build the network")
        n = hi - lo
        if self.coding == "voltage_sum":
            vals = np.asarray(d.values[self.variable])  # [steps, B, n] at step start
            total = torch.as_tensor(vals[1:].sum(axis=0) if len(vals) else np.zeros((B, n)))
            final = sim.get(name, self.variable)[:, lo:hi].detach().to("cpu", torch.float64)
            out = total + final if len(vals) else torch.zeros(B, n, dtype=torch.float64)
            return out.to(sim.device, sim.dtype)
        keep = (d.indices >= lo) & (d.indices < hi)
        idx, b, steps = d.indices[keep] - lo, d.batch[keep], d.steps[keep]
        if self.coding == "first_spike":
            first = np.full((B, n), np.inf)
            np.minimum.at(first, (b, idx), steps.astype(np.float64))
            return torch.as_tensor(first * sim.dt).to(sim.device, sim.dtype)
        counts = np.zeros((B, n))
        np.add.at(counts, (b, idx), 1.0)
        if self.coding == "spike_rate":
            if sim.t <= 0:
                raise NetworkError(f"Decoder '{self.name}': no time has passed since the "
                                   "last reset; run the network first")
            counts = counts / sim.t
        return torch.as_tensor(counts).to(sim.device, sim.dtype)

    def _train_predict(self, name: str, lo: int, hi: int) -> torch.Tensor:
        """``predict`` in training mode: from the trained layers, differentiable. The
        values equal the simulation's; ``first_spike`` is ``dt`` times the number of
        steps before the first spike, ``sum_t prod_{k<=t} (1 - s_k)``, so its gradient
        reaches every spike up to the first (``inf`` where a neuron did not spike)."""
        out = self.network._train_out  # type: ignore[union-attr]
        if out is None:
            raise NetworkError(f"Decoder '{self.name}': run the network first")
        spikes, finals, sums, steps = out
        dt = self.network.dt  # type: ignore[union-attr]
        s = spikes[name][..., lo:hi]
        if self.coding in ("spike_counts", "spike_rate"):
            counts = s.sum(dim=0)
            return counts if self.coding == "spike_counts" else counts / (steps * dt)
        if self.coding == "first_spike":
            before = torch.cumprod(1 - s, dim=0)  # 1 while no spike yet (up to step t)
            t = before.sum(dim=0) * dt
            return torch.where(before[-1] > 0.5, torch.full_like(t, float("inf")), t)
        states = finals[name] if self.coding == "final_step_voltage" else sums[name]
        if self.variable not in states:
            raise NetworkError(f"Decoder '{self.name}': the trained layer of '{name}' "
                               f"has no state '{self.variable}'")
        return states[self.variable][..., lo:hi]

    def classes(self) -> torch.Tensor:
        """The winning neuron per batch element: the largest output, or for
        ``first_spike`` the earliest spike."""
        p = self.predict
        return p.argmin(dim=1) if self.coding == "first_spike" else p.argmax(dim=1)

    def __repr__(self) -> str:
        return f"Decoder({self.coding!r}, name={self.name!r})"


