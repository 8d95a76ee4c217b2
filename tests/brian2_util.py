"""Shared helpers for the Brian2 comparison tests (``tests/test_brian2.py``).

The same snncc :class:`~snncc.NeuronModel` (its equation strings are Brian2 syntax) is run
in snncc (torch backend, CPU, float64) and in Brian2 (numpy code generation target), with
the same time step, integration method, parameters and initial values, and both runs are
returned as :class:`Run` records: the recorded traces (one row per neuron, one column per
step, recorded at the start of each step as Brian2's ``when='start'``) and the spikes as
(step, neuron) pairs.

Brian2 is imported lazily so that importing this module never needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

import snncc as sc
from snncc.units import Hz, Quantity, get_dimension, get_value, ms, mV, nA, pA

#: For every library model: (parameter overrides, initial values, recorded variable) that
#: make one neuron fire regularly under a constant input, starting from rest. Shared by
#: ``test_library.py`` and ``test_brian2.py``; a new library model needs an entry here.
MODEL_INPUTS: dict[str, tuple[dict[str, object], dict[str, object], str]] = {
    "lif": ({"I": 20 * mV}, {"v": -70 * mV}, "v"),
    "lif_soft": ({"I": 20 * mV}, {"v": -70 * mV}, "v"),
    "lif_current": ({"I": 500 * pA}, {"v": -70 * mV}, "v"),
    "cuba": ({}, {"v": -60 * mV}, "v"),  # El = -49 mV is above threshold
    "coba": ({"I": 15 * mV}, {"v": -60 * mV}, "v"),
    "alif": ({"I": 25 * mV}, {"v": -70 * mV}, "v"),
    "clif": ({"I": 400 * Hz}, {}, "V"),  # V = M - S - E, a subexpression
    "izhikevich": ({"I": 10 * mV / ms}, {"v": -65 * mV, "u": -13 * mV / ms}, "v"),
    "adex": ({"I": 1 * nA}, {"v": -70.6 * mV}, "v"),
    "eif": ({"I": 5 * mV}, {"v": -65 * mV}, "v"),
    "qif": ({"I": 10 * mV}, {"v": -65 * mV}, "v"),
    "hh": ({"I": 1 * nA}, {"v": -60 * mV, "m": "alpha_m/(alpha_m + beta_m)",
                            "n": "alpha_n/(alpha_n + beta_n)",
                            "h": "alpha_h/(alpha_h + beta_h)"}, "v"),  # gates at rest
}


@dataclass
class Run:
    """One simulation: ``traces[var]`` is ``[n_neurons, n_steps]`` (SI values); spike
    ``steps`` and neuron ``indices`` are sorted by step, then neuron."""

    traces: dict[str, np.ndarray]
    steps: np.ndarray
    indices: np.ndarray

    def spike_steps(self, neuron: int = 0) -> np.ndarray:
        return self.steps[self.indices == neuron]


def _sorted_spikes(steps: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    steps = np.asarray(steps, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    order = np.lexsort((indices, steps))
    return steps[order], indices[order]


# ------------------------------------------------------------------------------- units
def to_brian2(value: object) -> object:
    """A snncc value (number, array or :class:`~snncc.units.Quantity`) as a Brian2 one.

    Both libraries order the base dimensions as (m, kg, s, A, K, mol, cd)."""
    from brian2.units.fundamentalunits import Quantity as B2Quantity
    from brian2.units.fundamentalunits import get_or_create_dimension

    if not isinstance(value, Quantity):
        return value
    dim = get_dimension(value)
    if dim.is_dimensionless:
        return get_value(value)
    exps = [float(e) for e in dim.exponents]
    return B2Quantity(np.asarray(get_value(value), dtype=np.float64),
                      dim=get_or_create_dimension(exps))


def setup_brian2(dt: float) -> None:
    """numpy code generation (no compiler needed) and ``defaultclock.dt = dt`` seconds."""
    from brian2 import defaultclock, prefs, second

    prefs.codegen.target = "numpy"
    defaultclock.dt = dt * second


# ------------------------------------------------------------------------------- snncc
def run_snncc(model: sc.NeuronModel, *, n: int, steps: int, dt: float,
              params: Mapping[str, object], init: Mapping[str, object], method: str,
              record: Sequence[str], dtype: torch.dtype = torch.float64) -> Run:
    """Simulate ``n`` neurons of ``model`` for ``steps`` steps of ``dt`` seconds in snncc."""
    net = sc.Network(dt=dt * sc.units.second, seed=0)
    with net:
        G = sc.NeuronGroup(n, model, params=dict(params), init=dict(init), method=method)
        mon = sc.StateMonitor(G, list(record))
        spk = sc.SpikeMonitor(G)
    sim = net.compile(backend="torch", device="cpu", dtype=dtype)
    sim.run(steps * dt * sc.units.second)
    traces = {}
    for var in record:
        vals = mon.values(var)
        traces[var] = np.asarray(get_value(vals), dtype=np.float64).reshape(n, steps)
    st, ix = _sorted_spikes(np.round(np.asarray(get_value(spk.t)) / dt), spk.i)
    return Run(traces, st, ix)


# ------------------------------------------------------------------------------- brian2
def _renamed(text: str | None, rename: Mapping[str, str]) -> str | None:
    if text is None or not rename:
        return text
    names = "|".join(map(re.escape, rename))
    text = re.sub(r"\bd(" + names + r")(\s*/\s*dt)\b",
                  lambda m: "d" + rename[m.group(1)] + m.group(2), text)
    return re.sub(r"\b(" + names + r")\b", lambda m: rename[m.group(1)], text)


def brian2_group(model: sc.NeuronModel, n: int, *, params: Mapping[str, object],
                 init: Mapping[str, object], method: str, dt: float,
                 rename: Mapping[str, str] | None = None):  # noqa: ANN201
    """A Brian2 ``NeuronGroup`` of ``model``: the same equation strings, threshold, reset
    and refractory period; parameters declared in the equations (e.g. ``I : volt``) are
    set per neuron, every other parameter goes into the group's namespace.

    ``rename`` maps snncc names to other names used on the Brian2 side only (Brian2's
    ``exact`` integrator cannot handle a variable named ``S``, which clashes with
    sympy's ``S``)."""
    from brian2 import NeuronGroup, second

    rename = dict(rename or {})
    values = {rename.get(k, k): v for k, v in {**model.params, **params}.items()}
    declared = {rename.get(e.name, e.name) for e in model.equations.parameters}
    namespace = {k: to_brian2(v) for k, v in values.items() if k not in declared}
    refractory = (to_brian2(model.refractory) if isinstance(model.refractory, Quantity)
                  else _renamed(model.refractory, rename) if model.refractory is not None
                  else False)
    G = NeuronGroup(n, _renamed(model.equations.text, rename),
                    threshold=_renamed(model.threshold, rename),
                    reset=_renamed(model.reset, rename), refractory=refractory,
                    method=method, namespace=namespace, dt=dt * second)
    for k in declared:
        if k in values:
            setattr(G, k, to_brian2(values[k]))
    for k, v in init.items():
        setattr(G, rename.get(k, k), to_brian2(v))
    return G


def run_brian2(model: sc.NeuronModel, *, n: int, steps: int, dt: float,
               params: Mapping[str, object], init: Mapping[str, object], method: str,
               record: Sequence[str], rename: Mapping[str, str] | None = None) -> Run:
    """The same simulation as :func:`run_snncc`, in Brian2 (numpy target); traces are
    keyed by the snncc names."""
    from brian2 import Network, SpikeMonitor, StateMonitor, second

    rename = dict(rename or {})
    setup_brian2(dt)
    G = brian2_group(model, n, params=params, init=init, method=method, dt=dt, rename=rename)
    b2_record = [rename.get(v, v) for v in record]
    mon = StateMonitor(G, b2_record, record=True, dt=dt * second)  # when='start'
    spk = SpikeMonitor(G)
    net = Network(G, mon, spk)
    net.run(steps * dt * second, namespace={})  # names come from the group's namespace
    traces = {var: np.asarray(getattr(mon, b2 + "_"), dtype=np.float64).reshape(n, steps)
              for var, b2 in zip(record, b2_record)}
    st, ix = _sorted_spikes(np.round(np.asarray(spk.t_) / dt), spk.i[:])
    return Run(traces, st, ix)


# ------------------------------------------------------------------------------- compare
def first_divergence(a: np.ndarray, b: np.ndarray) -> int:
    """Index of the first spike at which two sorted spike-step lists differ (the length
    of the shorter list if one is a prefix of the other)."""
    k = min(len(a), len(b))
    diff = np.nonzero(a[:k] != b[:k])[0]
    return int(diff[0]) if diff.size else k


def matching_steps(a: np.ndarray, b: np.ndarray) -> int:
    """The number of leading steps where two runs are comparable: up to (excluding) the
    first spike that happens at different steps in ``a`` and ``b``."""
    k = first_divergence(a, b)
    if k < len(a) and k < len(b):
        return int(min(a[k], b[k]))
    if k < len(a):
        return int(a[k])
    if k < len(b):
        return int(b[k])
    return -1  # identical spike trains: everything is comparable
