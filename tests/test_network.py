"""Network building, connectivity, delays, event code, spike sources, monitors, running,
saving/loading and the options of ``compile`` -- end to end on the torch backend (CPU).

Exact checks use SpikeGeneratorGroups (spikes at known steps) and models with known
solutions; statistical checks (Poisson rates, ``p=`` connectivity) use fresh random seeds
and 5-sigma bounds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.errors import NetworkError
from snncc.units import Hz, Quantity, ms, mV

DT = 0.1  # ms


def val(x: object) -> np.ndarray:
    """The SI value of a Quantity (or the array itself) as a float64 array."""
    return np.asarray(x.value if isinstance(x, Quantity) else x, dtype=np.float64)


def to_steps(t: object, dt_ms: float = DT) -> np.ndarray:
    return np.round(val(t) / (dt_ms * 1e-3)).astype(np.int64)


def spikes(mon: sc.SpikeMonitor) -> list[tuple[int, int]]:
    return sorted(zip(to_steps(mon.t).tolist(), mon.i.tolist()))


# A passive "counter" neuron: x only changes through synapses.
COUNTER = sc.NeuronModel("x : 1", name="counter")

LIF = sc.NeuronModel(
    """
    dv/dt = (El - v + I)/tau : volt (unless refractory)
    I : volt
    """,
    threshold="v > Vt", reset="v = Vr", refractory=2 * ms,
    params={"El": -70 * mV, "Vt": -55 * mV, "Vr": -70 * mV, "tau": 10 * ms}, name="lif_t")

NOISY = sc.NeuronModel(
    """
    dv/dt = (El - v + I)/tau + sigma*xi/sqrt(tau) : volt
    I : volt
    """,
    threshold="v > Vt", reset="v = Vr",
    params={"El": -70 * mV, "Vt": -55 * mV, "Vr": -70 * mV, "tau": 10 * ms,
            "sigma": 3 * mV}, name="noisy")


# ---------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------

def _build_in_function() -> sc.Network:
    net = sc.Network(dt=DT * ms, seed=1)
    with net:
        exc = sc.NeuronGroup(5, "lif", params={"I": 20 * mV})
        inh = sc.NeuronGroup(3, "lif")
        ee = sc.Connection(exc, inh, on_pre="v += 1*mV")
        spikes_exc = sc.SpikeMonitor(exc)
        trace = sc.StateMonitor(inh, "v", record=[0])
    assert (exc.name, inh.name, ee.name, spikes_exc.name, trace.name) == (
        "exc", "inh", "ee", "spikes_exc", "trace")
    return net


def test_with_block_inside_a_function_names_from_variables() -> None:
    net = _build_in_function()
    assert [o.name for o in net.objects] == ["exc", "inh", "ee", "spikes_exc", "trace"]
    sim = net.compile()
    assert set(sim.program.populations) == {"exc", "inh"}
    assert set(sim.program.projections) == {"ee"}
    assert sim.get("exc", "v").shape == (1, 5)
    sim.run(30 * ms)
    mon = next(o for o in net.objects if o.name == "spikes_exc")
    assert mon.num_spikes > 0


def test_explicit_names_and_auto_names() -> None:
    net = sc.Network()
    with net:
        sc.NeuronGroup(2, "lif", name="cells")
        sc.NeuronGroup(2, "lif")  # not assigned to a variable: automatic name
    sim = net.compile()
    assert "cells" in sim.program.populations
    assert len(sim.program.populations) == 2
    other = next(n for n in sim.program.populations if n != "cells")
    assert other.isidentifier()


class FeedForward(sc.Network):
    def __init__(self, seed: int) -> None:
        super().__init__(dt=DT * ms, seed=seed)
        self.source = sc.SpikeGeneratorGroup(2, [0, 1, 0], np.array([1.0, 2.0, 3.0]) * ms)
        self.cells = sc.NeuronGroup(3, COUNTER)
        self.syn = sc.Connection(self.source, self.cells, on_pre="x += 1")
        self.mon = sc.StateMonitor(self.cells, "x")


def test_subclassed_network() -> None:
    a, b = FeedForward(seed=1), FeedForward(seed=2)
    assert [o.name for o in a.objects] == ["source", "cells", "syn", "mon"]
    assert a.cells.network is a and b.cells.network is b, "instances do not share members"
    sim = a.compile()
    assert set(sim.program.populations) == {"source", "cells"}
    sim.run(5 * ms)
    np.testing.assert_array_equal(val(a.mon.x)[:, -1], [3, 3, 3])
    with pytest.raises(NetworkError, match="no data"):
        b.mon.x  # noqa: B018 - b was never compiled nor run


def test_object_outside_network_is_an_error() -> None:
    stray = sc.NeuronGroup(3, "lif")
    net = sc.Network()
    with net:
        g = sc.NeuronGroup(3, "lif")
        sc.Connection(stray, g, on_pre="v += 1*mV")
    with pytest.raises(NetworkError, match="not part of this network"):
        net.compile()


# ---------------------------------------------------------------------------------------
# connectivity: the pairs the IR holds, and the pairs the simulation uses
# ---------------------------------------------------------------------------------------

def simulated_adjacency(n_pre: int, n_post: int, *, pre_slice: slice | None = None,
                        post_slice: slice | None = None, seed: int = 0, **conn: object
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fire each presynaptic neuron alone (neuron k at step 2k+1) into counter neurons
    and read which counters increased: returns (adjacency with multiplicity [n_pre,
    n_post] from the simulation, i, j from the IR)."""
    net = sc.Network(dt=DT * ms, seed=seed)
    with net:
        src = sc.SpikeGeneratorGroup(n_pre, np.arange(n_pre),
                                     (2 * np.arange(n_pre) + 1) * DT * ms)
        dst = sc.NeuronGroup(n_post, COUNTER)
        pre = src[pre_slice] if pre_slice is not None else src
        post = dst[post_slice] if post_slice is not None else dst
        sc.Connection(pre, post, on_pre="x += 1", name="c", **conn)
        mon = sc.StateMonitor(dst, "x")
    sim = net.compile(dtype=torch.float64)
    sim.run((2 * n_pre + 2) * DT * ms)
    x = val(mon.x)  # [n_post, steps]
    k = np.arange(n_pre)
    adj = (x[:, 2 * k + 2] - x[:, 2 * k + 1]).T
    pr = sim.program.projections["c"]
    return np.rint(adj).astype(np.int64), pr.i, pr.j


def _adj_from_pairs(i: np.ndarray, j: np.ndarray, n_pre: int, n_post: int) -> np.ndarray:
    a = np.zeros((n_pre, n_post), np.int64)
    np.add.at(a, (i, j), 1)
    return a


def test_full_connectivity() -> None:
    adj, i, j = simulated_adjacency(4, 5)
    assert i.size == 20
    np.testing.assert_array_equal(adj, np.ones((4, 5)))
    np.testing.assert_array_equal(_adj_from_pairs(i, j, 4, 5), adj)


def test_one_to_one() -> None:
    adj, i, j = simulated_adjacency(6, 6, connect="one_to_one")
    np.testing.assert_array_equal(i, j)
    np.testing.assert_array_equal(adj, np.eye(6))
    with pytest.raises(sc.ShapeError):
        net = sc.Network()
        with net:
            a = sc.NeuronGroup(3, COUNTER)
            sc.Connection(a, sc.NeuronGroup(4, COUNTER), connect="one_to_one")


def test_explicit_pairs(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    i = rng.integers(0, 7, 25)
    j = rng.integers(0, 9, 25)  # duplicates allowed: several synapses per pair
    adj, pi, pj = simulated_adjacency(7, 9, i=i, j=j)
    np.testing.assert_array_equal(np.sort(pi * 100 + pj), np.sort(i * 100 + j))
    np.testing.assert_array_equal(adj, _adj_from_pairs(i, j, 7, 9))


def test_probability(fresh_seed: int) -> None:
    n_pre, n_post, p = 40, 50, 0.1
    adj, i, j = simulated_adjacency(n_pre, n_post, p=p, seed=fresh_seed)
    n = n_pre * n_post
    assert abs(i.size - n * p) < 5 * np.sqrt(n * p * (1 - p))
    assert adj.max() <= 1, "each pair at most once"
    np.testing.assert_array_equal(adj, _adj_from_pairs(i, j, n_pre, n_post))
    # the same seed gives the same connectivity, another seed another one
    _, i2, j2 = simulated_adjacency(n_pre, n_post, p=p, seed=fresh_seed)
    np.testing.assert_array_equal(i, i2)
    np.testing.assert_array_equal(j, j2)
    _, i3, j3 = simulated_adjacency(n_pre, n_post, p=p, seed=fresh_seed + 1)
    assert i3.size != i.size or not (np.array_equal(i3, i) and np.array_equal(j3, j))


def test_fan_in_exact_in_degree(fresh_seed: int) -> None:
    k = 7
    adj, i, j = simulated_adjacency(20, 15, fan_in=k, seed=fresh_seed)
    np.testing.assert_array_equal(adj.sum(axis=0), np.full(15, k))
    assert adj.max() == 1, "distinct presynaptic neurons"
    np.testing.assert_array_equal(adj, _adj_from_pairs(i, j, 20, 15))
    with pytest.raises(sc.ParameterError, match="fan_in"):
        simulated_adjacency(5, 5, fan_in=6)


def test_condition() -> None:
    adj, i, j = simulated_adjacency(12, 15, condition="abs(i - j) < 5")
    ii, jj = np.meshgrid(np.arange(12), np.arange(15), indexing="ij")
    want = (np.abs(ii - jj) < 5).astype(np.int64)
    np.testing.assert_array_equal(adj, want)
    np.testing.assert_array_equal(_adj_from_pairs(i, j, 12, 15), want)


def test_condition_with_probability(fresh_seed: int) -> None:
    p = 0.5
    adj, i, j = simulated_adjacency(30, 30, condition="abs(i - j) < 5", p=p,
                                    seed=fresh_seed)
    ii, jj = np.meshgrid(np.arange(30), np.arange(30), indexing="ij")
    allowed = np.abs(ii - jj) < 5
    assert not adj[~allowed].any(), "only pairs satisfying the condition"
    n = int(allowed.sum())
    assert abs(adj.sum() - n * p) < 5 * np.sqrt(n * p * (1 - p))
    np.testing.assert_array_equal(adj, _adj_from_pairs(i, j, 30, 30))


def test_subgroups_as_pre_and_post() -> None:
    adj, i, j = simulated_adjacency(10, 12, pre_slice=slice(3, 6), post_slice=slice(5, 9),
                                    connect="full")
    # IR indices are offset into the parent groups
    assert set(i.tolist()) == {3, 4, 5} and set(j.tolist()) == {5, 6, 7, 8}
    want = np.zeros((10, 12), np.int64)
    want[3:6, 5:9] = 1
    np.testing.assert_array_equal(adj, want)
    # explicit pairs are relative to the subgroups
    adj2, i2, j2 = simulated_adjacency(10, 12, pre_slice=slice(2, 5), post_slice=slice(7, 12),
                                       i=[0, 2, 2], j=[0, 4, 1])
    np.testing.assert_array_equal(i2, [2, 4, 4])
    np.testing.assert_array_equal(j2, [7, 11, 8])
    np.testing.assert_array_equal(adj2, _adj_from_pairs(i2, j2, 10, 12))
    # condition on subgroup-relative indices; nested slices add their offsets
    adj3, i3, j3 = simulated_adjacency(10, 12, pre_slice=slice(4, 8),
                                       post_slice=slice(2, 12), condition="i == j")
    np.testing.assert_array_equal(i3, [4, 5, 6, 7])
    np.testing.assert_array_equal(j3, [2, 3, 4, 5])
    np.testing.assert_array_equal(adj3, _adj_from_pairs(i3, j3, 10, 12))


def test_nested_subgroup() -> None:
    net = sc.Network()
    with net:
        g = sc.NeuronGroup(20, COUNTER)
    sub = g[5:15][2:4]
    assert (sub.start, sub.stop, sub.size) == (7, 9, 2)
    with pytest.raises(NetworkError):
        g[5:5]


# ---------------------------------------------------------------------------------------
# delays
# ---------------------------------------------------------------------------------------

def _arrival_steps(delay: object, n_post: int = 4, spike_step: int = 10
                   ) -> tuple[np.ndarray, object]:
    """One source spiking at ``spike_step`` into counters with ``delay``: the first step
    at whose start each counter shows the spike (Brian2: delivered in step
    spike_step + d, visible at the start of the next step)."""
    net = sc.Network(dt=DT * ms, seed=0)
    with net:
        src = sc.SpikeGeneratorGroup(1, [0], np.array([spike_step * DT]) * ms)
        dst = sc.NeuronGroup(n_post, COUNTER)
        sc.Connection(src, dst, on_pre="x += 1", delay=delay, name="c")
        mon = sc.StateMonitor(dst, "x")
    sim = net.compile(dtype=torch.float64)
    sim.run(8 * ms)
    x = val(mon.x)
    assert x.shape == (n_post, 80)
    assert np.all(x[:, -1] == 1), "every spike arrives once"
    return np.argmax(x > 0, axis=1), sim


@pytest.mark.parametrize("delay, d_steps", [(None, 0), (0 * ms, 0), (1.5 * ms, 15),
                                             (2, 20), (0.73 * ms, 7)])
def test_homogeneous_delay(delay: object, d_steps: int) -> None:
    arrive, sim = _arrival_steps(delay)
    np.testing.assert_array_equal(arrive, np.full(4, 10 + d_steps + 1))
    assert sim.program.projections["c"].delay.tolist() == [d_steps]


def test_per_synapse_delays_array() -> None:
    arrive, sim = _arrival_steps(np.array([0.0, 1.0, 2.5, 3.04]) * ms)
    np.testing.assert_array_equal(arrive, 11 + np.array([0, 10, 25, 30]))
    arrive2, _ = _arrival_steps(np.array([0.5, 0.0, 4.0, 0.5]))  # bare numbers: ms
    np.testing.assert_array_equal(arrive2, 11 + np.array([5, 0, 40, 5]))


def test_per_synapse_delays_string(fresh_seed: int) -> None:
    arrive, _ = _arrival_steps("j*0.7*ms")
    np.testing.assert_array_equal(arrive, 11 + np.round(np.arange(4) * 7).astype(int))
    # random delays: deterministic under the seed, and what the IR says is what happens
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        src = sc.SpikeGeneratorGroup(1, [0], np.array([1.0]) * ms)
        dst = sc.NeuronGroup(6, COUNTER)
        sc.Connection(src, dst, on_pre="x += 1", delay="rand()*3*ms", name="c")
        mon = sc.StateMonitor(dst, "x")
    sim = net.compile(dtype=torch.float64)
    sim.run(6 * ms)
    d = sim.program.projections["c"].delay
    assert d.shape == (6,) and d.min() >= 0 and d.max() <= 30
    np.testing.assert_array_equal(np.argmax(val(mon.x) > 0, axis=1), 11 + d)


def test_delayed_spikes_with_continued_runs(fresh_seed: int) -> None:
    """Spikes in flight at the end of a run arrive in the next run."""
    rng = np.random.default_rng(fresh_seed)
    steps = np.sort(rng.choice(np.arange(5, 95), 20, replace=False))

    def run(chunks: list[float]) -> np.ndarray:
        net = sc.Network(dt=DT * ms, seed=0)
        with net:
            src = sc.SpikeGeneratorGroup(1, np.zeros(20, int), steps * DT * ms)
            dst = sc.NeuronGroup(3, COUNTER)
            sc.Connection(src, dst, on_pre="x += 1", delay=np.array([0.3, 1.1, 2.6]) * ms)
            mon = sc.StateMonitor(dst, "x")
        sim = net.compile(dtype=torch.float64)
        for c in chunks:
            sim.run(c * ms)
        return val(mon.x)

    np.testing.assert_array_equal(run([5.0, 5.0, 3.0]), run([13.0]))


# ---------------------------------------------------------------------------------------
# event code
# ---------------------------------------------------------------------------------------

PRE = sc.NeuronModel("dv/dt = 1/tau : 1\ny : 1", threshold="v > 1", reset="v = 0",
                     params={"tau": 1.7}, name="ramp")  # unitless: tau in ms
POST = sc.NeuronModel("dv/dt = 1/tau : 1\nx : 1\nz : 1", threshold="v > 1",
                      reset="v = 0", params={"tau": 2.3}, name="ramp2")


@pytest.mark.filterwarnings("ignore:index_reduce:UserWarning")  # torch: "*=" is beta
def test_on_pre_writes_synaptic_pre_and_post_variables(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    n_pre, n_post = 4, 5
    i = rng.integers(0, n_pre, 12)
    j = rng.integers(0, n_post, 12)
    w = rng.uniform(0.5, 2.0, 12)
    syn = sc.SynapseModel("w : 1\ncount : 1",
                          on_pre="x += w; count += 1; y_pre += 1; w *= 1.5")
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        A = sc.NeuronGroup(n_pre, PRE, init={"v": rng.uniform(0, 1, n_pre)})
        B = sc.NeuronGroup(n_post, POST)
        S = sc.Connection(A, B, syn, i=i, j=j, init={"w": w})
        ma = sc.SpikeMonitor(A)
    sim = net.compile(dtype=torch.float64)
    sim.run(10 * ms)
    n_spk = ma.count  # spikes per pre neuron
    assert n_spk.min() >= 3
    count = sim.get("S", "count")[0].numpy()
    np.testing.assert_array_equal(count, n_spk[i])
    np.testing.assert_allclose(sim.get("S", "w")[0].numpy(), w * 1.5 ** n_spk[i])
    y = sim.get("A", "y")[0].numpy()
    np.testing.assert_array_equal(y, n_spk * np.bincount(i, minlength=n_pre))
    # x += w with w growing after each spike: sum over the synapses into each post neuron
    x_want = np.zeros(n_post)
    np.add.at(x_want, j, w * (1.5 ** n_spk[i] - 1) / 0.5)
    np.testing.assert_allclose(sim.get("B", "x")[0].numpy(), x_want, rtol=1e-12)
    _ = S


def test_on_post(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    syn = sc.SynapseModel("c : 1", on_pre="x += 1", on_post="c += 1; y_pre -= 1; z += 2")
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        A = sc.NeuronGroup(3, PRE, init={"v": rng.uniform(0, 1, 3)})
        B = sc.NeuronGroup(4, POST, init={"v": rng.uniform(0, 1, 4)})
        sc.Connection(A, B, syn, name="S")  # full: 12 synapses
        mb = sc.SpikeMonitor(B)
        ma = sc.SpikeMonitor(A)
    sim = net.compile(dtype=torch.float64)
    sim.run(10 * ms)
    nb, na = mb.count, ma.count
    assert nb.min() >= 3
    pr = sim.program.projections["S"]
    np.testing.assert_array_equal(sim.get("S", "c")[0].numpy(), nb[pr.j])
    np.testing.assert_array_equal(sim.get("A", "y")[0].numpy(), -np.full(3, nb.sum()))
    np.testing.assert_array_equal(sim.get("B", "z")[0].numpy(), 2 * 3 * nb)
    np.testing.assert_array_equal(sim.get("B", "x")[0].numpy(), np.full(4, na.sum()))


# ---------------------------------------------------------------------------------------
# spike sources
# ---------------------------------------------------------------------------------------

def _poisson_spikes(seed: int, rate: object = 50 * Hz, n: int = 1000, dur: float = 200.0
                    ) -> tuple[sc.SpikeMonitor, sc.CompiledNetwork]:
    net = sc.Network(dt=DT * ms, seed=seed)
    with net:
        P = sc.PoissonGroup(n, rate)
        mon = sc.SpikeMonitor(P)
    sim = net.compile()
    sim.run(dur * ms)
    return mon, sim


def test_poisson_rate(fresh_seed: int) -> None:
    mon, _ = _poisson_spikes(fresh_seed)
    expected = 1000 * 0.2 * 50
    assert abs(mon.num_spikes - expected) < 5 * np.sqrt(expected)
    # per-neuron rates as an array, and rates as a string of i
    rates = np.where(np.arange(1000) < 500, 20.0, 80.0) * Hz
    mon2, _ = _poisson_spikes(fresh_seed, rates)
    c = mon2.count
    for lo, r in ((0, 20), (500, 80)):
        e = 500 * 0.2 * r
        assert abs(c[lo:lo + 500].sum() - e) < 5 * np.sqrt(e)
    mon3, _ = _poisson_spikes(fresh_seed, "(20 + 60*(i >= 500))*Hz")
    c3 = mon3.count
    for lo, r in ((0, 20), (500, 80)):
        e = 500 * 0.2 * r
        assert abs(c3[lo:lo + 500].sum() - e) < 5 * np.sqrt(e)
    # a bare number means Hz
    mon4, _ = _poisson_spikes(fresh_seed, 50)
    assert abs(mon4.num_spikes - expected) < 5 * np.sqrt(expected)


def test_poisson_seed_determinism(fresh_seed: int) -> None:
    a, _ = _poisson_spikes(fresh_seed, n=200, dur=50.0)
    b, _ = _poisson_spikes(fresh_seed, n=200, dur=50.0)
    c, _ = _poisson_spikes(fresh_seed + 1, n=200, dur=50.0)
    assert a.num_spikes > 100
    assert spikes(a) == spikes(b)
    assert spikes(a) != spikes(c)


def test_spike_generator_reproduced_exactly(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    n, n_steps = 8, 300
    pairs = {(int(s), int(k)) for s, k in zip(rng.integers(0, n_steps, 150),
                                              rng.integers(0, n, 150))}
    st = np.array([p[0] for p in pairs])
    ix = np.array([p[1] for p in pairs])
    net = sc.Network(dt=DT * ms, seed=0)
    with net:
        G = sc.SpikeGeneratorGroup(n, ix, st * DT)  # bare numbers: ms
        mon = sc.SpikeMonitor(G)
        sub = sc.SpikeMonitor(G[2:5])
    net.compile().run(n_steps * DT * ms)
    assert spikes(mon) == sorted(pairs)
    np.testing.assert_allclose(val(mon.t), to_steps(mon.t) * DT * 1e-3, rtol=0, atol=1e-15)
    assert spikes(sub) == sorted((s, k - 2) for s, k in pairs if 2 <= k < 5)
    np.testing.assert_array_equal(mon.count, np.bincount(ix, minlength=n))
    assert mon.num_spikes == len(pairs)
    trains = mon.spike_trains()
    assert set(trains) == set(range(n))
    np.testing.assert_array_equal(np.sort(to_steps(trains[3])), np.sort(st[ix == 3]))


def test_spike_generator_rejects_double_spikes() -> None:
    net = sc.Network(dt=DT * ms)
    with net:
        sc.SpikeGeneratorGroup(2, [1, 1], np.array([1.0, 1.02]) * ms)
    with pytest.raises(sc.ParameterError, match="twice"):
        net.compile()


# ---------------------------------------------------------------------------------------
# monitors
# ---------------------------------------------------------------------------------------

def test_monitors(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    N = 30
    v0 = rng.uniform(-70, -56, N) * mV
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        G = sc.NeuronGroup(N, LIF, params={"I": rng.uniform(14, 30, N) * mV},
                           init={"v": v0})
        sp = sc.SpikeMonitor(G)
        st = sc.StateMonitor(G, ["v", "I"], record=[0, 7, 29])
        st_all = sc.StateMonitor(G[10:20], "v")
        st_one = sc.StateMonitor(G, "v", record=4)
        rate = sc.PopulationRateMonitor(G)
        rate_sub = sc.PopulationRateMonitor(G[0:10])
    sim = net.compile(dtype=torch.float64)
    sim.run(50 * ms)
    n_steps = 500
    assert val(st.v).shape == (3, n_steps) and val(st.I).shape == (3, n_steps)
    assert val(st_all.v).shape == (10, n_steps)
    assert val(st_one.v).shape == (1, n_steps)
    assert isinstance(st.v, Quantity) and st.v.dim == mV.dim
    np.testing.assert_array_equal(to_steps(st.t), np.arange(n_steps))
    # recorded at the start of each step: the first value is the initial value
    np.testing.assert_allclose(val(st.v)[:, 0], val(v0)[[0, 7, 29]], rtol=1e-12)
    np.testing.assert_allclose(val(st_all.v)[:, 0], val(v0)[10:20], rtol=1e-12)
    # SpikeMonitor: i, t, count
    assert sp.num_spikes > 20
    assert sp.i.shape == sp.t.shape == (sp.num_spikes,)
    np.testing.assert_array_equal(sp.count, np.bincount(sp.i, minlength=N))
    assert np.all(np.diff(to_steps(sp.t)) >= 0), "spikes in time order"
    # a spike at step s leaves v reset at the start of step s + 1
    s, k = to_steps(sp.t), sp.i
    for step, idx in zip(s, k):
        if idx in (0, 7, 29) and step + 1 < n_steps:
            row = [0, 7, 29].index(idx)
            assert val(st.v)[row, step + 1] == pytest.approx(-70e-3)
    # PopulationRateMonitor: count / (N * dt) per step
    counts = np.bincount(s, minlength=n_steps)
    np.testing.assert_allclose(val(rate.rate), counts / (N * DT * 1e-3))
    np.testing.assert_array_equal(to_steps(rate.t), np.arange(n_steps))
    sub_counts = np.bincount(s[k < 10], minlength=n_steps)
    np.testing.assert_allclose(val(rate_sub.rate), sub_counts / (10 * DT * 1e-3))
    sm = val(rate.smooth_rate(1 * ms))
    assert sm.shape == (n_steps,)
    assert np.mean(sm) == pytest.approx(np.mean(val(rate.rate)), rel=0.05)


def test_monitor_errors() -> None:
    net = sc.Network()
    with net:
        G = sc.NeuronGroup(3, "lif")
        mon = sc.StateMonitor(G, "v")
        bad = sc.StateMonitor(G, "nope")
    with pytest.raises(NetworkError, match="no data"):
        mon.v  # noqa: B018
    with pytest.raises(sc.UnknownNameError, match="nope"):
        net.compile()
    _ = bad


# ---------------------------------------------------------------------------------------
# running, saving, loading
# ---------------------------------------------------------------------------------------

def _driven_noisy_net(seed: int, init_v: object = "Vr + rand()*(Vt - Vr)"):  # noqa: ANN202
    net = sc.Network(dt=DT * ms, seed=seed)
    with net:
        P = sc.PoissonGroup(50, 40 * Hz)
        G = sc.NeuronGroup(20, NOISY, params={"I": 12 * mV}, init={"v": init_v})
        sc.Connection(P, G, on_pre="v += 1.5*mV", p=0.3, delay="rand()*2*ms")
        sp = sc.SpikeMonitor(G)
        sp_in = sc.SpikeMonitor(P)
        vm = sc.StateMonitor(G, "v", record=[0, 5])
    return net, sp, sp_in, vm


def test_run_continues(fresh_seed: int) -> None:
    net1, sp1, in1, vm1 = _driven_noisy_net(fresh_seed)
    sim1 = net1.compile(dtype=torch.float64)
    sim1.run(50 * ms)
    sim1.run(50 * ms)
    assert sim1.t == pytest.approx(0.1)
    net2, sp2, in2, vm2 = _driven_noisy_net(fresh_seed)
    net2.compile(dtype=torch.float64).run(100 * ms)
    assert sp1.num_spikes > 10 and in1.num_spikes > 50
    assert spikes(in1) == spikes(in2)
    assert spikes(sp1) == spikes(sp2)
    np.testing.assert_array_equal(val(vm1.v), val(vm2.v))
    assert val(vm1.v).shape == (2, 1000)


def test_step() -> None:
    net, _, _, vm = _driven_noisy_net(1)
    sim = net.compile()
    for _ in range(3):
        sim.step()
    assert sim.t == pytest.approx(3 * DT * 1e-3)
    assert val(vm.v).shape == (2, 3)


def test_state_dict_round_trip(fresh_seed: int) -> None:
    """Save after 20 ms, load into a freshly compiled network, continue: identical,
    including the RNG (Poisson input, noise xi) and spikes in flight (delays)."""
    net1, sp1, in1, vm1 = _driven_noisy_net(fresh_seed)
    sim1 = net1.compile(dtype=torch.float64)
    sim1.run(20 * ms)
    # state_dict() holds references to the live buffers (as in torch): copy it
    state = {k: v.clone() for k, v in sim1.state_dict().items()}
    assert "_step" in state and "_rng_state" in state
    sim1.run(30 * ms)

    net2, sp2, in2, vm2 = _driven_noisy_net(fresh_seed)
    sim2 = net2.compile(dtype=torch.float64)
    sim2.load_state_dict(state)
    assert sim2.t == pytest.approx(20e-3)
    sim2.run(30 * ms)

    n0 = 200
    assert spikes(in2) == [s for s in spikes(in1) if s[0] >= n0]
    assert spikes(sp2) == [s for s in spikes(sp1) if s[0] >= n0]
    assert sp2.num_spikes > 0
    np.testing.assert_array_equal(to_steps(vm2.t), np.arange(n0, 500))
    np.testing.assert_array_equal(val(vm2.v), val(vm1.v)[:, n0:])


def test_state_dict_restores_rng_not_reseeds(fresh_seed: int) -> None:
    """Loading into a network built with another seed but the same structure: the noise
    continues from the saved generator, not from the new seed."""
    net1, sp1, _, vm1 = _driven_noisy_net(fresh_seed, init_v=-60 * mV)
    sim1 = net1.compile(dtype=torch.float64)
    sim1.run(5 * ms)
    state = {k: v.clone() for k, v in sim1.state_dict().items()}
    sim1.run(10 * ms)
    net2, _, _, vm2 = _driven_noisy_net(fresh_seed, init_v=-65 * mV)
    sim2 = net2.compile(dtype=torch.float64)
    sim2.load_state_dict(state)
    sim2.run(10 * ms)
    np.testing.assert_array_equal(val(vm2.v), val(vm1.v)[:, 50:])


# ---------------------------------------------------------------------------------------
# refractoriness
# ---------------------------------------------------------------------------------------

def test_refractory_time_and_clamp(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    N = 10
    model = sc.NeuronModel(
        """
        dv/dt = (El - v + I)/tau : volt (unless refractory)
        du/dt = (El - u + I)/tau : volt
        I : volt
        """,
        threshold="v > Vt", reset="v = Vr", refractory=3 * ms,
        params={"El": -70 * mV, "Vt": -55 * mV, "Vr": -70 * mV, "tau": 2 * ms})
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        G = sc.NeuronGroup(N, model, params={"I": rng.uniform(200, 400, N) * mV})
        sp = sc.SpikeMonitor(G)
        vm = sc.StateMonitor(G, ["v", "u"])
    sim = net.compile(dtype=torch.float64)
    sim.run(50 * ms)
    v, u = val(vm.v), val(vm.u)
    ref = 30
    for k in range(N):
        s = to_steps(sp.t[sp.i == k])
        assert s.size >= 5
        isi = np.diff(s)
        # the drive is strong: the neuron fires at the first step it may
        assert isi.min() >= ref
        assert isi.max() <= ref + 2
        for step in s[:-1]:
            # clamped at Vr through the refractory period (start of steps s+1 .. s+ref)
            np.testing.assert_array_equal(v[k, step + 1:step + ref + 1], -70e-3)
        # u has no flag: it keeps integrating
        assert np.unique(u[k, s[0] + 1:s[0] + ref]).size > 1
    assert "3 ms (30 steps)" in sim.describe()


def test_refractory_condition(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    N = 6
    model = sc.NeuronModel(
        """
        dv/dt = (I - v)/tau : 1
        da/dt = -a/taua : 1
        I : 1
        """,
        threshold="v > 1", reset="v = 0; a = 1", refractory="a > 0.5",
        params={"tau": 1.0, "taua": 5.0})  # unitless: times in ms
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        G = sc.NeuronGroup(N, model, params={"I": rng.uniform(20, 40, N)})
        sp = sc.SpikeMonitor(G)
        am = sc.StateMonitor(G, "a")
    sim = net.compile(dtype=torch.float64)
    sim.run(40 * ms)
    a = val(am.a)
    k_ref = int(np.ceil(5.0 * np.log(2) / DT))  # steps until a <= 0.5
    for k in range(N):
        s = to_steps(sp.t[sp.i == k])
        assert s.size >= 4
        for s0, s1 in zip(s[:-1], s[1:]):
            # refractory while a > 0.5 (checked on the values at the start of a step)
            free = s0 + 1 + np.nonzero(a[k, s0 + 1:] <= 0.5)[0][0]
            assert s1 == free, (k, s0, s1, free)
            assert s1 - s0 in (k_ref, k_ref + 1)
    assert "a > 0.5" in sim.describe()


# ---------------------------------------------------------------------------------------
# unitless models, bare numbers
# ---------------------------------------------------------------------------------------

def test_unitless_equals_unit_aware(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    N = 40
    drive = rng.uniform(10, 30, N)
    v0 = rng.uniform(-70, -56, N)
    with_units = sc.NeuronModel("dv/dt = (El - v + I)/tau : volt\nI : volt",
                                threshold="v > Vt", reset="v = Vr", refractory=2 * ms,
                                params={"El": -70 * mV, "Vt": -55 * mV, "Vr": -70 * mV,
                                        "tau": 10 * ms})
    unitless = sc.NeuronModel("dv/dt = (El - v + I)/tau\nI : 1",
                              threshold="v > Vt", reset="v = Vr", refractory=2,
                              params={"El": -70, "Vt": -55, "Vr": -70, "tau": 10})

    def run(model: sc.NeuronModel, scale: object) -> tuple[list, np.ndarray]:
        net = sc.Network(dt=DT, seed=fresh_seed)
        with net:
            G = sc.NeuronGroup(N, model, params={"I": drive * scale},
                               init={"v": v0 * scale})
            sp = sc.SpikeMonitor(G)
            vm = sc.StateMonitor(G, "v", record=[0, 1])
        net.compile(dtype=torch.float64).run(100)
        return spikes(sp), val(vm.v)

    s_units, v_units = run(with_units, mV)
    s_plain, v_plain = run(unitless, 1)
    assert len(s_units) > 50
    assert s_units == s_plain
    np.testing.assert_allclose(v_units * 1e3, v_plain, rtol=1e-9, atol=1e-9)


def test_bare_numbers_mean_ms() -> None:
    net = sc.Network(dt=0.1, seed=0)
    with net:
        src = sc.SpikeGeneratorGroup(1, [0], [1.0])
        G = sc.NeuronGroup(2, "lif", refractory=2)
        sc.Connection(src, G, on_pre="v += 1*mV", delay=1.5, name="c")
    sim = net.compile()
    assert sim.dt == pytest.approx(1e-4)
    assert sim.program.projections["c"].delay.tolist() == [15]
    assert "2 ms (20 steps)" in sim.describe()
    assert sim.program.populations["src"].spike_steps.tolist() == [10]
    sim.run(5)
    assert sim.t == pytest.approx(5e-3)
    sim.run(0.5 * ms)
    assert sim.t == pytest.approx(5.5e-3)
    assert sc.Network(dt=0.25 * ms).dt == pytest.approx(2.5e-4)
    with pytest.raises(sc.UnitError):
        sc.Network(dt=1 * mV)
    with pytest.raises(sc.ParameterError):
        sc.Network(dt=0)


# ---------------------------------------------------------------------------------------
# batch, init, dtype
# ---------------------------------------------------------------------------------------

def _batch_net(seed: int, noisy: bool, N: int = 15):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    net = sc.Network(dt=DT * ms, seed=seed)
    with net:
        G = sc.NeuronGroup(N, NOISY if noisy else LIF,
                           params={"I": rng.uniform(14, 30, N) * mV},
                           init={"v": rng.uniform(-70, -56, N) * mV})
        sp = sc.SpikeMonitor(G)
        vm = sc.StateMonitor(G, "v", record=[0, 3])
        rm = sc.PopulationRateMonitor(G)
    return net, sp, vm, rm


def test_batch_deterministic_copies_equal_batch_1(fresh_seed: int) -> None:
    net1, sp1, vm1, _ = _batch_net(fresh_seed, noisy=False)
    net1.compile(dtype=torch.float64).run(30 * ms)
    net3, sp3, vm3, rm3 = _batch_net(fresh_seed, noisy=False)
    sim3 = net3.compile(dtype=torch.float64, batch=3)
    sim3.run(30 * ms)
    assert sim3.get("G", "v").shape == (3, 15)
    v3 = val(vm3.v)
    assert v3.shape == (3, 2, 300)
    ref = spikes(sp1)
    assert len(ref) > 10
    for b in range(3):
        np.testing.assert_array_equal(v3[b], val(vm1.v))
        keep = sp3.b == b
        got = sorted(zip(to_steps(sp3.t[keep]).tolist(), sp3.i[keep].tolist()))
        assert got == ref
    assert val(rm3.rate).shape == (3, 300)


def test_batch_with_synapses_delays_and_on_post(fresh_seed: int) -> None:
    """Event code in a batch: every copy equals the batch=1 run."""
    def run(batch: int):  # noqa: ANN202
        rng = np.random.default_rng(fresh_seed)
        st = np.sort(rng.choice(300, 60, replace=False))
        ix = rng.integers(0, 10, 60)
        syn = sc.SynapseModel("w : volt\nc : 1", on_pre="v += w", on_post="c += 1; y_pre += 1")
        net = sc.Network(dt=DT * ms, seed=fresh_seed)
        with net:
            G = sc.NeuronGroup(10, sc.NeuronModel("dv/dt = 0/ms : volt\ny : 1",
                                                  threshold="v > 1*volt", reset="v = 0*volt"),
                               name="G")
            src = sc.SpikeGeneratorGroup(10, ix, st * DT * ms)
            H = sc.NeuronGroup(8, "lif", params={"I": 14 * mV})
            sc.Connection(src, G, on_pre="v += 2*volt", connect="one_to_one")
            sc.Connection(G, H, syn, weight="rand()*4*mV", p=0.5, delay="rand()*2*ms",
                          name="S")
            sp = sc.SpikeMonitor(H)
            vm = sc.StateMonitor(H, "v")
        sim = net.compile(dtype=torch.float64, batch=batch)
        sim.run(40 * ms)
        return sim, sp, val(vm.v)

    sim1, sp1, v1 = run(1)
    sim3, sp3, v3 = run(3)
    assert sp1.num_spikes > 5 and sp3.num_spikes == 3 * sp1.num_spikes
    for b in range(3):
        np.testing.assert_array_equal(v3[b], v1)
        for owner, var in (("S", "c"), ("G", "y"), ("S", "w")):
            np.testing.assert_array_equal(sim3.get(owner, var)[b].numpy(),
                                          sim1.get(owner, var)[0].numpy())
    assert sim1.get("S", "c").sum() > 0


def test_batch_with_noise_differs(fresh_seed: int) -> None:
    net3, sp3, vm3, _ = _batch_net(fresh_seed, noisy=True)
    net3.compile(dtype=torch.float64, batch=3).run(30 * ms)
    v = val(vm3.v)
    assert v.shape == (3, 2, 300)
    np.testing.assert_array_equal(v[:, :, 0], np.broadcast_to(v[0, :, 0], (3, 2)))
    assert not np.array_equal(v[0], v[1]) and not np.array_equal(v[1], v[2])
    assert set(np.unique(sp3.b).tolist()) <= {0, 1, 2}


def test_init_number_array_string(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    N = 500
    arr = rng.uniform(-70, -60, N) * mV
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        sc.NeuronGroup(N, "lif", init={"v": -65 * mV}, name="A")
        sc.NeuronGroup(N, "lif", init={"v": arr}, name="B")
        sc.NeuronGroup(N, "lif", init={"v": "Vr + rand()*(Vt - Vr)"}, name="C")
        sc.NeuronGroup(N, "lif", init={"v": "i*0.1*mV"}, name="D")
        sc.NeuronGroup(N, "lif", init={"v": "Vr + rand()*(Vt - Vr)"}, name="E")
        U = sc.NeuronGroup(4, sc.NeuronModel("dx/dt = -x/tau : 1", params={"tau": 5.0}),
                           init={"x": "2 + i"})
        sc.StateMonitor(U, "x", record=0)  # else x is dead state
    sim = net.compile(dtype=torch.float64)

    def get(g: str, var: str = "v") -> np.ndarray:
        return sim.get(g, var)[0].numpy()

    np.testing.assert_array_equal(get("A"), np.full(N, -65e-3))
    np.testing.assert_array_equal(get("B"), val(arr))
    c = get("C")
    assert c.min() >= -70e-3 and c.max() < -55e-3
    assert np.unique(c).size == N, "one draw per neuron"
    assert abs(c.mean() - (-62.5e-3)) < 5 * 15e-3 / np.sqrt(12 * N)
    assert not np.array_equal(c, get("E")), "each group draws its own values"
    np.testing.assert_allclose(get("D"), np.arange(N) * 1e-4, rtol=1e-12)
    np.testing.assert_array_equal(get("U", "x"), [2, 3, 4, 5])
    # the same seed gives the same random initial values
    net2 = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net2:
        sc.NeuronGroup(N, "lif", init={"v": -65 * mV}, name="A")
        sc.NeuronGroup(N, "lif", init={"v": arr}, name="B")
        sc.NeuronGroup(N, "lif", init={"v": "Vr + rand()*(Vt - Vr)"}, name="C")
    np.testing.assert_array_equal(net2.compile(dtype=torch.float64).get("C", "v")[0].numpy(),
                                  c)
    with pytest.raises(sc.UnitError):
        bad = sc.Network()
        with bad:
            sc.NeuronGroup(3, "lif", init={"v": "i*0.1"})
        bad.compile()
    with pytest.raises(sc.ShapeError):
        bad = sc.Network()
        with bad:
            sc.NeuronGroup(3, "lif", init={"v": np.zeros(4) * mV})
        bad.compile()


def test_float64_and_float32(fresh_seed: int) -> None:
    out = {}
    for dtype in (torch.float64, torch.float32):
        net, sp, vm, _ = _batch_net(fresh_seed, noisy=False)
        sim = net.compile(dtype=dtype)
        assert sim.get("G", "v").dtype == dtype
        sim.run(20 * ms)
        out[dtype] = (spikes(sp), val(vm.v))
    assert len(out[torch.float64][0]) > 5
    np.testing.assert_allclose(out[torch.float32][1][:, :20], out[torch.float64][1][:, :20],
                               rtol=0, atol=1e-6)
    net, *_ = _batch_net(fresh_seed, noisy=False)
    assert net.compile().get("G", "v").dtype == torch.float32, "float32 is the default"
    with pytest.raises(sc.ParameterError):
        net.compile(dtype=torch.float16)


# ---------------------------------------------------------------------------------------
# inspection
# ---------------------------------------------------------------------------------------

def _inspect_net() -> sc.CompiledNetwork:
    net = sc.Network(dt=DT * ms, seed=0)
    with net:
        P = sc.NeuronGroup(20, "cuba")
        H = sc.NeuronGroup(5, "hh")
        sc.Connection(P, H, on_pre="ge += 6*nS", p=0.5, name="PH")
        sc.SpikeMonitor(P, name="spk")
    return net.compile()


def test_source_contains_equations() -> None:
    sim = _inspect_net()
    src = sim.source()
    comments = [ln.strip() for ln in src.splitlines() if ln.strip().startswith("#")]
    for name in ("cuba", "hh"):
        model = sc.library.get(name)
        for eq in model.equations.diff:
            assert any(eq.text in c for c in comments), f"{name}: {eq.text}"
        assert any(model.threshold in c for c in comments)
    assert any("ge += 6*nS" in c for c in comments)
    compile(src, "<generated>", "exec")  # plain Python


def test_source_contains_subexpressions() -> None:
    src = _inspect_net().source()
    comments = [ln.strip() for ln in src.splitlines() if ln.strip().startswith("#")]
    for eq in sc.library.get("hh").equations.subexpressions:
        assert any(eq.text in c for c in comments), eq.text


def test_describe() -> None:
    sim = _inspect_net()
    d = sim.describe()
    for text in ("population P", "population H", "cuba", "hh", "integrator: exact",
                 "integrator: exponential_euler", "projection PH: P -> H",
                 "monitor spk", "backend: torch"):
        assert text in d, text
    assert sim.program.populations["H"].method_used == "exponential_euler"


def test_module_double_moves_state_arrays_and_dtype() -> None:
    """``sim.double()`` (nn.Module's dtype move) converts the state, the static arrays and
    the dtype together: the run equals one compiled in float64."""
    def build():
        net = sc.Network(dt=DT * ms, seed=2)
        with net:
            P = sc.NeuronGroup(50, "cuba", init={"v": "Vr + rand()*(Vt - Vr)"}, name="P")
            sc.Connection(P, P, on_pre="ge += 2*mV", p=0.2, weight="rand()", name="C")
            sp = sc.SpikeMonitor(P)
        return net, sp
    net, ref = build()
    net.compile(dtype=torch.float64).run(20 * ms)
    net, sp = build()
    sim = net.compile()
    assert sim.double() is sim and sim.dtype == torch.float64
    assert sim.get("P", "v").dtype == torch.float64
    sim.run(20 * ms)
    assert ref.num_spikes > 5
    np.testing.assert_array_equal(sp.i, ref.i)
    with pytest.raises(sc.ParameterError, match="float32 or torch.float64"):
        sim.half()
    assert sim.get("P", "v").dtype == torch.float64, "a refused move changes nothing"


# ------------------------------------------------ conditions and empty connections
def test_condition_with_and_and_random_draws() -> None:
    """Documented conditions: ``and`` over broadcast i, j (numpy used to refuse the
    ragged tuple), and rand()/randn() drawn per pair (deterministic under the seed)."""
    adj, i, j = simulated_adjacency(6, 7, condition="i != j and j > 0")
    expect = np.array([[int(a != b and b > 0) for b in range(7)] for a in range(6)])
    np.testing.assert_array_equal(adj, expect)
    _, i1, j1 = simulated_adjacency(20, 20, condition="randn() > 0", seed=3)
    _, i2, j2 = simulated_adjacency(20, 20, condition="randn() > 0", seed=3)
    assert 100 < i1.size < 300  # about half of 400 pairs
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(j1, j2)


@pytest.mark.parametrize("condition,message", [("i/0 > 1", "division by zero"),
                                               ("i % 0 > 1", "modulo by zero"),
                                               ("i // 0 > 1", "division by zero")])
def test_condition_division_by_zero_is_an_error(condition: str, message: str) -> None:
    net = sc.Network(dt=DT * ms)
    with net:
        G = sc.NeuronGroup(3, COUNTER)
        sc.Connection(G, G, on_pre="x += 1", condition=condition)
    with pytest.raises(sc.SnnccError, match=message):
        net.lower()


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("conn", [dict(p=0.0), dict(p=1e-9), dict(i=[], j=[]),
                                  dict(condition="i > 100", delay="i*ms")])
def test_connection_without_synapses_runs(backend: str, conn: dict) -> None:
    if backend == "triton":
        pytest.importorskip("triton")
    syn = sc.SynapseModel("w : 1\ndapre/dt = -apre/(5*ms) : 1 (event-driven)",
                          on_pre="x += w; apre += 1", on_post="w += apre")
    net = sc.Network(dt=DT * ms, seed=0)
    with net:
        src = sc.SpikeGeneratorGroup(3, [0, 1, 2], [0.1, 0.2, 0.3] * ms)
        dst = sc.NeuronGroup(3, sc.NeuronModel("x : 1", threshold="x > 0.5", reset="x = 0"))
        sc.Connection(src, dst, syn, **conn)
        mon = sc.StateMonitor(dst, "x")
    sim = net.compile(backend=backend)
    sim.run(0.5 * ms)
    assert sim.program.projections[next(iter(sim.program.projections))].n_synapses == 0
    assert not val(mon.x).any()


@pytest.mark.parametrize("kw,message", [
    (dict(refractory=1e9 * ms), "refractory period"),       # past "never spiked"
    (dict(refractory=1e300 * ms), "refractory period"),     # int64 overflow
    (dict(delay=1e7 * ms), "delay"),                        # a 1e8-row spike history
    (dict(delay="1e300*ms"), "delay"),
])
def test_absurd_times_are_errors(kw: dict, message: str) -> None:
    net = sc.Network(dt=DT * ms)
    with net:
        G = sc.NeuronGroup(3, sc.NeuronModel(
            "dv/dt = (2*mV - v)/(1*ms) : volt", threshold="v > 1*mV", reset="v = 0*mV",
            refractory=kw.get("refractory")))
        if "delay" in kw:
            sc.Connection(G, G, on_pre="v += 1*mV", delay=kw["delay"])
    with pytest.raises(sc.errors.ParameterError, match=message):
        net.lower()
