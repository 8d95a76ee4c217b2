"""Ready-made networks for the demo, the ``emit`` command, tests and benchmarks.

Each builder writes the network exactly as a user of snncc would (library models,
``Connection``, monitors) and returns the :class:`~snncc.Network` together with handles
to its objects, so callers can compile it, run it and read the monitors:

>>> from snncc.examples import cuba_network
>>> net, h = cuba_network(n=400)
>>> sim = net.compile(backend="torch", device="cpu")
>>> _ = sim.run(0.1)  # ms
>>> h.spikes.num_spikes >= 0
True
"""

from __future__ import annotations

from dataclasses import dataclass

from snncc.errors import NetworkError, ParameterError
from snncc.frontend import library
from snncc.frontend.monitors import SpikeMonitor, StateMonitor
from snncc.frontend.network import Connection, Network, NeuronGroup
from snncc.units import Hz, Quantity, ms, mV, nA, pA

__all__ = ["CUBA_SYNAPSES_PER_NEURON", "CUBA_WE", "CUBA_WI", "DRIVES", "CubaHandles",
           "ModelHandles", "cuba_network", "cuba_p", "model_network"]

#: Synapses per neuron in Brian2's CUBA example (4000 neurons, p = 0.02).
CUBA_SYNAPSES_PER_NEURON = 80

#: Excitatory and inhibitory weights of Brian2's CUBA example.
CUBA_WE = (60 * 0.27 / 10) * mV
CUBA_WI = (-20 * 4.5 / 10) * mV

#: A constant input ``I`` that makes each library model fire regularly (``None``: the
#: model fires without input, or has no ``I``).
DRIVES: dict[str, Quantity | None] = {
    "lif": 20 * mV,
    "lif_soft": 20 * mV,
    "lif_current": 500 * pA,
    "coba": 15 * mV,
    "alif": 25 * mV,
    "clif": 300 * Hz,
    "izhikevich": 10 * mV / ms,
    "adex": 1 * nA,
    "eif": 5 * mV,
    "qif": 5 * mV,
    "hh": 1 * nA,
    "cuba": None,  # El = -49 mV lies above threshold
}


@dataclass(frozen=True)
class CubaHandles:
    """The objects of :func:`cuba_network`, named as in Brian2's example.

    Attributes:
        P: the neuron group (model ``"cuba"``).
        Ce: excitatory synapses ``P[:int(0.8 n)] -> P``.
        Ci: inhibitory synapses ``P[int(0.8 n):] -> P``.
        spikes: a SpikeMonitor of ``P`` (``None`` if monitors were not requested).
        vm: a StateMonitor of ``v`` for neurons 0 and 1 (``None`` likewise).
    """

    P: NeuronGroup
    Ce: Connection
    Ci: Connection
    spikes: SpikeMonitor | None
    vm: StateMonitor | None


def cuba_p(n: int) -> float:
    """Connection probability that keeps 80 synapses per neuron (0.02 for 4000 neurons)."""
    return min(1.0, CUBA_SYNAPSES_PER_NEURON / n)


def cuba_network(n: int = 4000, seed: int = 0, dt: float | Quantity = 0.1 * ms, *,
                 p: float | None = None, monitors: bool = True,
                 record_v: tuple[int, ...] = (0, 1)) -> tuple[Network, CubaHandles]:
    """Brian2's CUBA example (Vogels & Abbott 2005; Brette et al. 2007, benchmark 2).

    ``n`` current-based LIF neurons (library model ``"cuba"``): the first ``int(0.8 n)``
    are excitatory (``ge += we``, we = 1.62 mV), the rest inhibitory (``gi += wi``,
    wi = -9 mV); every pair is connected with probability ``p`` (default ``80/n``, i.e.
    0.02 at 4000 neurons, so each neuron keeps 80 synapses on average). Membrane
    potentials start uniformly between reset and threshold (``"Vr + rand()*(Vt - Vr)"``).

    Args:
        n: number of neurons (at least 2).
        seed: fixes the initial potentials and the connectivity.
        dt: time step (a bare number means ms).
        p: connection probability; default ``min(1, 80/n)``.
        monitors: add a SpikeMonitor of all neurons and a StateMonitor of ``v``.
        record_v: neurons whose ``v`` the StateMonitor records.

    Returns:
        ``(net, handles)``; compile with ``net.compile(...)``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ParameterError(f"cuba_network: n must be an integer >= 2, got {n!r}")
    n_exc = int(0.8 * n)
    prob = cuba_p(n) if p is None else p
    net = Network(dt=dt, seed=seed, name="cuba")
    with net:
        P = NeuronGroup(n, model="cuba", init={"v": "Vr + rand()*(Vt - Vr)"}, name="P")
        Ce = Connection(P[:n_exc], P, p=prob, on_pre="ge += we", params={"we": CUBA_WE},
                        name="Ce")
        Ci = Connection(P[n_exc:], P, p=prob, on_pre="gi += wi", params={"wi": CUBA_WI},
                        name="Ci")
        spikes = vm = None
        if monitors:
            spikes = SpikeMonitor(P, name="spikes")
            rec = [r for r in record_v if r < n]
            vm = StateMonitor(P, "v", record=rec, name="vm") if rec else None
    return net, CubaHandles(P, Ce, Ci, spikes, vm)


@dataclass(frozen=True)
class ModelHandles:
    """The objects of :func:`model_network`: the group ``G`` and its monitors."""

    G: NeuronGroup
    spikes: SpikeMonitor
    vm: StateMonitor | None


def model_network(model: str, n: int = 10, seed: int = 0, dt: float | Quantity = 0.1 * ms,
                  *, drive: Quantity | None = None, record: str | None = None
                  ) -> tuple[Network, ModelHandles]:
    """A group of ``n`` neurons of library model ``model`` driven by a constant input.

    The input is the model's ``I`` parameter, set to ``drive`` (default
    :data:`DRIVES[model] <DRIVES>`, a value that makes the model fire regularly). The
    group's spikes are monitored; ``record`` names a variable to record for neuron 0.

    Args:
        model: a library model name (``snncc.library.names()``).
        n: number of neurons.
        seed: seed of the network.
        dt: time step (a bare number means ms).
        drive: value of ``I``; ``None`` uses the default of the model.
        record: a state variable to record with a StateMonitor (optional).
    """
    if model not in library.names():
        raise NetworkError(f"unknown library model {model!r}; available: "
                           f"{', '.join(library.names())}")
    value = drive if drive is not None else DRIVES.get(model)
    params = {"I": value} if value is not None else None
    net = Network(dt=dt, seed=seed, name=model)
    with net:
        G = NeuronGroup(n, model=model, params=params, name="G")
        spikes = SpikeMonitor(G, name="spikes")
        vm = StateMonitor(G, record, record=[0], name="vm") if record else None
    return net, ModelHandles(G, spikes, vm)
