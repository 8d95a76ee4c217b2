"""The Potjans & Diesmann (2014) cortical microcircuit in snncc.

77,169 LIF neurons with exponential current synapses in four layers (L2/3, L4, L5, L6), each
an excitatory and an inhibitory population, connected after the published table of
connection probabilities, with normally distributed weights and delays and a background
drive. Parameters, the rule that draws the synapses, the scaling of neuron numbers and
in-degrees and the DC that replaces the Poisson background all follow NEST's PyNEST
example (``pynest/examples/Potjans_2014``: ``network_params.py``, ``network.py``,
``helpers.py``; Rothe, Bos, van Albada). GeNN's ``PotjansMicrocircuit_project`` scales
the same way (at 0.5 and 0.5 it has 38,582 neurons and 74,715,499 synapses; 38,586 and
74,720,239 here, where sizes and counts are rounded as NEST does).

    python examples/microcircuit.py                      # scale 0.02, 100 ms
    python examples/microcircuit.py --scale 0.1 --duration 500 --dtype float64
    python examples/microcircuit.py --scale 0.1 --background poisson

Scaling (NEST's ``N_scaling`` and ``K_scaling``):

* ``scale`` multiplies the number of neurons of each population. The number of synapses
  of each (target, source) pair is the full network's times ``scale * k_scale``, drawn
  with NEST's ``fixed_total_number`` rule (sources and targets uniformly at random,
  multapses and autapses allowed), so in-degrees do not change with ``scale`` alone.
* ``k_scale`` multiplies the in-degrees. As in NEST's
  ``adjust_weights_and_input_to_synapse_scaling``, weights are then divided by
  ``sqrt(k_scale)`` and each population receives the DC
  ``tau_syn * (1 - sqrt(k_scale)) * sum_s J_ts K_ts r_s`` (full-network weights J, in-degrees
  K and published rates r) that restores the mean recurrent input.

Background: ``"poisson"`` (NEST's ``poisson_input=True``) gives every neuron ``K_ext``
independent 8 Hz Poisson sources (``sc.PoissonInput`` per population: one binomial draw
per neuron and step, not one synapse per source), scaled like the recurrent synapses
(``k_scale * K_ext`` sources of weight ``J_ext / sqrt(k_scale)``, the DC restoring the
mean). ``"dc"`` (``poisson_input=False``) replaces that input by its mean, the DC
``bg_rate * K_ext * J_ext * tau_syn`` (about 560 pA for L2/3E).

Weights and delays are drawn as in NEST 2 (normal distributions clipped: weights at 0 so
they keep their sign, delays below at dt; NEST 3 redraws instead of clipping, which
changes the delays' distribution slightly: 2.3% of them lie below dt).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

import snncc as sc
from snncc.errors import ParameterError
from snncc.units import Hz, ms, mV, pA, pF

# ------------------------------------------------------------------ published parameters
POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
#: neurons per population in the full network
N_FULL = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
#: connection probabilities, target (row) x source (column), in the order of POPULATIONS
CONN_PROBS = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443]])
#: external (background) in-degrees
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100])
#: firing rates of the full network (Hz), NEST's ``full_mean_rates``: the reference the
#: rates are compared with and the input the in-degree compensation assumes
PUBLISHED_RATES_HZ = np.array([0.971, 2.868, 4.746, 5.396, 8.142, 9.078, 0.991, 7.523])
EXCITATORY = np.array([True, False] * 4)

DT_MS = 0.1
C_M_PF, TAU_M_MS, TAU_SYN_MS, T_REF_MS = 250.0, 10.0, 0.5, 2.0
E_L_MV, V_RESET_MV, V_TH_MV = -65.0, -65.0, -50.0
#: NEST's 'optimized' initial potentials (mean, sd per population, mV): a smaller burst at
#: the start than the 'original' N(-58 mV, 10 mV)
V0_MEAN_MV = np.array([-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43])
V0_SD_MV = np.array([5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48])
PSP_E_MV = 0.15       # mean excitatory PSP amplitude
PSP_REL_SD = 0.1      # relative sd of the weights
G = -4.0              # inhibitory / excitatory weight
BG_RATE_HZ = 8.0      # rate of each external synapse
DELAY_MEAN_MS = np.where(EXCITATORY, 1.5, 0.75)  # by source population
DELAY_REL_SD = 0.5

#: background inputs :func:`build` offers
BACKGROUNDS = ("dc", "poisson")

MODEL = sc.NeuronModel(
    """
    dv/dt = (E_L - v)/tau_m + (I + I_dc)/C_m : volt (unless refractory)
    dI/dt = -I/tau_syn : amp
    I_dc : amp
    """,
    threshold="v > V_th", reset="v = V_reset", refractory=T_REF_MS * ms,
    params={"E_L": E_L_MV * mV, "V_reset": V_RESET_MV * mV, "V_th": V_TH_MV * mV,
            "tau_m": TAU_M_MS * ms, "C_m": C_M_PF * pF, "tau_syn": TAU_SYN_MS * ms},
    name="iaf_psc_exp")


def psc_per_psp(c_m: float = C_M_PF, tau_m: float = TAU_M_MS,
                tau_syn: float = TAU_SYN_MS) -> float:
    """The current amplitude (pA) whose exponential PSC peaks the membrane at 1 mV above
    rest (NEST's ``postsynaptic_potential_to_current``; 585.4 pA/mV here)."""
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / c_m * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac ** tau_m - frac ** tau_syn))


def full_synapse_counts() -> np.ndarray:
    """Synapses per (target, source) pair in the full network: the number of uniform
    draws that connects each pair with the published probability (NEST's
    ``num_synapses_from_conn_probs``), [8, 8]."""
    prod = np.outer(N_FULL, N_FULL).astype(np.float64)
    return np.log(1.0 - CONN_PROBS) / np.log((prod - 1.0) / prod)


@dataclass(frozen=True)
class Derived:
    """Everything :func:`build` draws the network from, for one scaling.

    Attributes:
        scale, k_scale: the neuron and in-degree scaling factors.
        sizes: neurons per population.
        synapses: synapses per (target, source) pair, [8, 8].
        weight_pa: mean weight (PSC amplitude, pA) per pair, [8, 8].
        dc_pa: constant input per population (pA): background and k_scale compensation.
        background: ``"dc"`` or ``"poisson"`` (see :attr:`poisson_sources` and
            :attr:`poisson_weight_pa`).
    """

    scale: float
    k_scale: float
    sizes: np.ndarray
    synapses: np.ndarray
    weight_pa: np.ndarray
    dc_pa: np.ndarray
    background: str = "dc"

    @property
    def poisson_sources(self) -> np.ndarray:
        """Poisson sources per neuron of each population (``k_scale * K_ext``)."""
        return np.round(K_EXT * self.k_scale).astype(np.int64)

    @property
    def poisson_weight_pa(self) -> float:
        """Weight of each Poisson source (pA), scaled like the recurrent weights."""
        return PSP_E_MV * psc_per_psp() / np.sqrt(self.k_scale)

    @property
    def offsets(self) -> np.ndarray:
        """First neuron of each population in the one group of all neurons (and N)."""
        return np.concatenate([[0], np.cumsum(self.sizes)])


def derive(scale: float = 1.0, k_scale: float = 1.0, background: str = "dc") -> Derived:
    """Population sizes, synapse counts, mean weights and DC inputs (NEST's
    ``Network.__derive_parameters``)."""
    for name, value in (("scale", scale), ("k_scale", k_scale)):
        if not 0 < value <= 1:
            raise ParameterError(f"microcircuit: {name} must be in (0, 1], got {value!r}")
    if background not in BACKGROUNDS:
        raise ParameterError(f"microcircuit: unknown background {background!r}; use one of "
                             f"{', '.join(map(repr, BACKGROUNDS))}")
    sizes = np.round(N_FULL * scale).astype(np.int64)
    if sizes.min() < 1:
        raise ParameterError(f"microcircuit: scale {scale:g} leaves a population empty "
                             f"({POPULATIONS[int(sizes.argmin())]}); use scale >= "
                             f"{0.5 / N_FULL.min():.2g}")
    full = full_synapse_counts()
    synapses = np.round(full * scale * k_scale).astype(np.int64)
    psc = psc_per_psp()
    weight_full = np.where(EXCITATORY, PSP_E_MV, G * PSP_E_MV)[None, :] * psc * np.ones((8, 1))
    weight_full[0, 2] *= 2.0  # L4E -> L2/3E doubled
    dc = np.zeros(8)
    external = BG_RATE_HZ * K_EXT * PSP_E_MV * psc * TAU_SYN_MS * 1e-3  # its mean (pA)
    # the DC: all of it, or what k_scale takes from the Poisson sources' mean
    dc += external if background == "dc" else (1.0 - np.sqrt(k_scale)) * external
    # the mean recurrent input that in-degrees scaled by k_scale take away
    in_degree = full / N_FULL[:, None]
    rec = (weight_full * in_degree * PUBLISHED_RATES_HZ[None, :]).sum(axis=1)
    dc += 1e-3 * TAU_SYN_MS * (1.0 - np.sqrt(k_scale)) * rec
    return Derived(scale, k_scale, sizes, synapses, weight_full / np.sqrt(k_scale), dc,
                   background)


@dataclass(frozen=True)
class Pathway:
    """The synapses out of one source population, into all populations.

    Attributes:
        source: index into POPULATIONS.
        i: source neuron within its population; j: target neuron in the whole network.
        weight_pa: per synapse (pA); delay_ms: per synapse (ms).
    """

    source: int
    i: np.ndarray
    j: np.ndarray
    weight_pa: np.ndarray
    delay_ms: np.ndarray


def draw_pathways(d: Derived, seed: int) -> list[Pathway]:
    """The synapses of each source population (see :func:`iter_pathways`)."""
    return list(iter_pathways(d, seed))


def iter_pathways(d: Derived, seed: int) -> Iterator[Pathway]:
    """The synapses of each source population with p > 0 somewhere, drawn from ``seed``
    with numpy: for each (target, source) pair ``d.synapses`` uniform (source, target)
    pairs (NEST's fixed_total_number), weights ~ N(J, 0.1 |J|) clipped at 0, delays ~
    N(mean, mean/2) clipped at dt, listed by source neuron.

    The sources are drawn as counts per source neuron (a multinomial, which is what
    ``n`` uniform draws amount to), so the synapses come out listed by source without a
    sort: O(synapses), no argsort. The same seed gives the same network to snncc and to
    other simulators. One source population at a time (a generator), so a large network
    holds one population's draws besides what it built from the others.
    """
    rng = np.random.default_rng(seed)
    off = d.offsets
    for s in range(8):
        n_s = int(d.sizes[s])
        targets = [t for t in range(8) if d.synapses[t, s] > 0]
        if not targets:
            continue
        counts = np.stack([rng.multinomial(int(d.synapses[t, s]), np.full(n_s, 1.0 / n_s))
                           for t in targets])  # [target population, source neuron]
        # each source neuron's synapses, target population after target population
        start = np.concatenate([[0], np.cumsum(counts.sum(0))[:-1]])
        before = np.cumsum(counts, axis=0) - counts  # of the earlier target populations
        total = int(counts.sum())
        i = np.repeat(np.arange(n_s, dtype=np.int32), counts.sum(0))  # 4 bytes each
        j = np.empty(total, np.int32)
        w = np.empty(total)
        dl = np.empty(total)
        dmean = DELAY_MEAN_MS[s]
        for k, t in enumerate(targets):
            n = int(counts[k].sum())
            first = np.cumsum(counts[k]) - counts[k]  # of each source neuron in block t
            src = np.repeat(np.arange(n_s), counts[k])
            dest = (start + before[k] - first)[src] + np.arange(n)
            j[dest] = off[t] + rng.integers(0, d.sizes[t], n, dtype=np.int32)
            mean = d.weight_pa[t, s]
            wt = rng.normal(mean, PSP_REL_SD * abs(mean), n)
            w[dest] = np.maximum(wt, 0.0) if mean > 0 else np.minimum(wt, 0.0)
            dl[dest] = np.maximum(rng.normal(dmean, DELAY_REL_SD * dmean, n), DT_MS)
        yield Pathway(s, i, j, w, dl)


def initial_v_mv(d: Derived, seed: int) -> np.ndarray:
    """Initial membrane potentials (mV), normal per population."""
    rng = np.random.default_rng([seed, 1])  # a stream apart from the synapses'
    return np.concatenate([rng.normal(V0_MEAN_MV[p], V0_SD_MV[p], d.sizes[p])
                           for p in range(8)])


@dataclass(frozen=True)
class Microcircuit:
    """What :func:`build` returns.

    Attributes:
        net: the network (not compiled).
        neurons: the one group of all neurons; population p is
            ``neurons[offsets[p]:offsets[p + 1]]``.
        connections: one Connection per source population, into all neurons.
        spikes: a SpikeMonitor of all neurons.
        derived: the sizes, synapse counts, weights and DC the network was drawn from.
    """

    net: sc.Network
    neurons: sc.NeuronGroup
    connections: tuple[sc.Connection, ...]
    spikes: sc.SpikeMonitor
    derived: Derived

    @property
    def num_synapses(self) -> int:
        return int(self.derived.synapses.sum())

    def rates_hz(self, t_start_ms: float, t_stop_ms: float) -> np.ndarray:
        """Mean firing rate of each population (Hz) over [t_start, t_stop) (ms)."""
        return population_rates_hz(self.spikes.i, np.asarray(self.spikes.t / ms),
                                   self.derived.offsets, t_start_ms, t_stop_ms)


def population_rates_hz(i: np.ndarray, t_ms: np.ndarray, offsets: np.ndarray,
                        t_start_ms: float, t_stop_ms: float) -> np.ndarray:
    """Spikes of neurons ``i`` at times ``t_ms`` per neuron and second of each population
    (bounded by ``offsets``), over the steps in [t_start, t_stop) (ms)."""
    if t_stop_ms <= t_start_ms:
        raise ParameterError(f"microcircuit: rates over [{t_start_ms:g}, {t_stop_ms:g}) "
                             "ms: the interval is empty")
    keep = (t_ms >= t_start_ms - DT_MS / 2) & (t_ms < t_stop_ms - DT_MS / 2)
    pop = np.searchsorted(offsets, i[keep], side="right") - 1
    counts = np.bincount(pop, minlength=len(offsets) - 1)
    return counts / np.diff(offsets) / ((t_stop_ms - t_start_ms) * 1e-3)


def default_k_scale(scale: float) -> float:
    """The in-degree scaling used with ``scale`` unless one is given: ``scale`` itself
    (NEST's example runs small machines with N_scaling = K_scaling), but at least 0.1:
    with smaller in-degrees the DC-driven network falls silent (all rates < 0.2 Hz at
    k_scale 0.05 in Brian2), since the DC compensation assumes the published rates."""
    return max(scale, 0.1)


def build(scale: float = 0.1, k_scale: float = 1.0, seed: int = 0,
          background: str = "dc") -> Microcircuit:
    """The microcircuit with neuron numbers scaled by ``scale`` and in-degrees by
    ``k_scale`` (see the module docstring), drawn from ``seed``.

    One NeuronGroup holds all neurons (populations are slices of it, so each step updates
    them at once) and one Connection per source population carries its synapses into all
    targets (``on_pre="I += w"``, per-synapse weights in pA and delays in ms).
    """
    d = derive(scale, k_scale, background)
    off = d.offsets
    net = sc.Network(dt=DT_MS * ms, seed=seed, name="microcircuit")
    with net:
        neurons = sc.NeuronGroup(
            int(off[-1]), MODEL, name="neurons",
            init={"v": initial_v_mv(d, seed) * mV,
                  "I_dc": np.repeat(d.dc_pa, d.sizes) * pA})
        connections = tuple(
            sc.Connection(neurons[off[p.source]:off[p.source + 1]], neurons, i=p.i, j=p.j,
                          on_pre="I += w", weight=p.weight_pa * pA,
                          delay=p.delay_ms * ms, name=f"from_{POPULATIONS[p.source]}")
            for p in iter_pathways(d, seed))
        if background == "poisson":
            for k, name in enumerate(POPULATIONS):
                sc.PoissonInput(neurons[off[k]:off[k + 1]], "I", int(d.poisson_sources[k]),
                                BG_RATE_HZ * Hz, d.poisson_weight_pa * pA, name=f"bg_{name}")
        spikes = sc.SpikeMonitor(neurons, name="spikes")
    return Microcircuit(net, neurons, connections, spikes, d)


def rate_table(rates: np.ndarray, reference: np.ndarray = PUBLISHED_RATES_HZ,
               label: str = "snncc") -> str:
    """Population rates next to the published ones, as a markdown table."""
    rows = [f"| population | {label} (Hz) | published (Hz) |", "|---|---|---|"]
    rows += [f"| {name} | {r:.2f} | {ref:.2f} |"
             for name, r, ref in zip(POPULATIONS, rates, reference)]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.02,
                    help="neurons per population, as a fraction of the full network")
    ap.add_argument("--k-scale", type=float, default=None,
                    help="in-degrees as a fraction of the full network's (default: "
                         "--scale, at least 0.1)")
    ap.add_argument("--duration", type=float, default=100.0, help="simulated time (ms)")
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--background", choices=BACKGROUNDS, default="dc",
                    help="Poisson sources per neuron (sc.PoissonInput) or their mean as DC")
    args = ap.parse_args(argv)
    k_scale = default_k_scale(args.scale) if args.k_scale is None else args.k_scale

    t0 = time.perf_counter()
    mc = build(args.scale, k_scale, args.seed, args.background)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = mc.net.compile(backend=args.backend, device=args.device,
                         dtype=getattr(torch, args.dtype))
    t_compile = time.perf_counter() - t0
    sim.run(args.duration * ms)
    n = int(mc.derived.offsets[-1])
    print(f"microcircuit: scale {args.scale:g}, k_scale {k_scale:g}: {n:,} neurons, "
          f"{mc.num_synapses:,} synapses, {args.background} background; {args.backend} "
          f"{args.dtype} on {args.device}")
    print(rate_table(mc.rates_hz(0.0, args.duration)))
    print(f"build {t_build:.2f} s, compile {t_compile:.2f} s, run {sim.last_run_seconds:.2f} s "
          f"for {args.duration:g} ms ({sim.last_run_seconds / (args.duration * 1e-3):.1f} s "
          "per simulated second)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
