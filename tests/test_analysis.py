"""Spike-train statistics (``snncc.analysis``) on cases with known answers: Poisson
trains, regular trains, synchronous trains, hand-counted examples and small networks.

Spike times given as plain arrays are in seconds (data, like a monitor's ``t``); time
arguments (``duration``, ``bin``, ...) are Quantities or bare numbers in ms."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

import snncc as sc
from snncc import analysis as A
from snncc.units import Hz, ms, mV, second

LIF = """
dv/dt = (El - v + I)/tau : volt (unless refractory)
I : volt
"""
LIF_PARAMS = {"El": -65 * mV, "tau": 10 * ms, "Vt": -50 * mV, "Vr": -65 * mV}


def _poisson(n: int, rate: float, duration: float, seed: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate * duration, n)
    return np.repeat(np.arange(n), counts), rng.uniform(0.0, duration, counts.sum())


def _lif_network(n: int, current: object, init: object = -65 * mV, seed: int = 0
                 ) -> tuple[sc.Network, sc.SpikeMonitor, sc.PopulationRateMonitor]:
    model = sc.NeuronModel(LIF, threshold="v > Vt", reset="v = Vr", refractory=2 * ms,
                           params=LIF_PARAMS)
    net = sc.Network(dt=0.1 * ms, seed=seed)
    with net:
        G = sc.NeuronGroup(n, model, init={"v": init, "I": current})
        mon = sc.SpikeMonitor(G)
        rate = sc.PopulationRateMonitor(G)
    return net, mon, rate


# ------------------------------------------------------------------ known cases
def test_poisson_trains_have_cv_and_fano_one_and_little_synchrony() -> None:
    n, rate, duration = 200, 20.0, 20.0
    spikes = A.spike_trains(_poisson(n, rate, duration), duration * second, n=n)
    assert A.mean_rate(spikes) == pytest.approx(rate, rel=0.02)
    assert A.mean_cv(spikes) == pytest.approx(1.0, abs=0.03)
    assert np.nanmean(A.fano_factor(spikes, window=100 * ms)) == pytest.approx(1.0, abs=0.03)
    chi = A.synchrony(spikes)  # independent trains: chi ~ 1/sqrt(n)
    assert 0.5 / math.sqrt(n) < chi < 1.5 / math.sqrt(n)
    assert abs(A.pairwise_correlation(spikes, n_pairs=2000)) < 0.01


def test_regular_trains_have_cv_zero_and_rate_one_over_period() -> None:
    n, period, duration = 50, 0.02, 2.0
    phase = np.random.default_rng(1).uniform(0.0, period, n)
    k = np.arange(int(duration / period))
    i = np.repeat(np.arange(n), k.size)
    t = (phase[:, None] + k[None, :] * period).ravel()
    cv = A.cv_isi((i, t), n=n)
    np.testing.assert_allclose(cv, 0.0, atol=1e-9)
    np.testing.assert_allclose(A.firing_rates((i, t), duration * second, n=n), 1.0 / period)
    for d in A.isi((i, t), n=n):
        np.testing.assert_allclose(d, period)
    # every 100 ms window holds exactly 5 spikes: no variance
    np.testing.assert_allclose(A.fano_factor((i, t), 2 * second, n=n, window=100), 0.0,
                               atol=1e-12)  # window=100: a bare number is 100 ms


def test_synchronous_trains_have_chi_and_correlation_one() -> None:
    n, duration = 40, 5 * second
    times = np.sort(np.random.default_rng(2).uniform(0.0, 5.0, 150))
    i, t = np.repeat(np.arange(n), times.size), np.tile(times, n)
    assert A.synchrony((i, t), duration, n=n) == pytest.approx(1.0, abs=1e-12)
    for smooth, width in (("gaussian", 3 * ms), ("box", 5 * ms)):
        assert A.synchrony((i, t), duration, n=n, smooth=smooth, width=width) == \
            pytest.approx(1.0, abs=1e-9)
    assert A.pairwise_correlation((i, t), duration, n=n) == pytest.approx(1.0, abs=1e-9)
    # m identical active neurons among n: chi = sqrt(m/n) (silent ones count)
    assert A.synchrony((i, t), duration, n=4 * n) == pytest.approx(0.5, abs=1e-12)


def test_jittered_synchrony_is_seen_by_wider_bins_and_smoothing() -> None:
    n, duration = 50, 5 * second
    rng = np.random.default_rng(3)
    times = np.sort(rng.uniform(0.0, 5.0, 100))
    i = np.repeat(np.arange(n), times.size)
    t = np.tile(times, n) + rng.normal(0.0, 2e-3, i.size)  # 2 ms jitter
    narrow = A.synchrony((i, t), duration, n=n, bin=0.1 * ms)
    wide = A.synchrony((i, t), duration, n=n, bin=20)  # bare numbers: ms
    smoothed = A.synchrony((i, t), duration, n=n, bin=0.1, smooth="gaussian", width=5)
    assert narrow < 0.3 < 0.8 < wide and smoothed > 0.8


def test_hand_counted_example() -> None:
    # neuron 0: 4 spikes with ISIs 1, 2, 3 ms; neuron 1: 2 spikes; neuron 2: silent
    i = np.array([0, 1, 0, 0, 1, 0])
    t = np.array([0.000, 0.0005, 0.001, 0.003, 0.0095, 0.006])
    isis = A.isi((i, t), n=3)
    np.testing.assert_allclose(isis[0], [1e-3, 2e-3, 3e-3])
    np.testing.assert_allclose(isis[1], [9e-3])
    assert isis[2].size == 0
    cv = A.cv_isi((i, t), n=3)
    assert cv[0] == pytest.approx(np.std([1, 2, 3]) / 2.0)
    assert np.isnan(cv[1]) and np.isnan(cv[2])  # fewer than 3 spikes
    assert A.mean_cv((i, t), n=3) == pytest.approx(cv[0])  # NaNs skipped
    np.testing.assert_allclose(A.firing_rates((i, t), 10 * ms, n=3), [400.0, 200.0, 0.0])
    assert A.mean_rate((i, t), 10 * ms, n=3) == pytest.approx(200.0)
    # counts in 5 ms windows: neuron 0 -> [3, 1], neuron 1 -> [1, 1]
    fano = A.fano_factor((i, t), 10 * ms, n=3, window=5 * ms)
    np.testing.assert_allclose(fano[:2], [2.0 / 2.0, 0.0])
    assert np.isnan(fano[2])
    tt, rate = A.population_rate((i, t), 10 * ms, n=3, bin=5 * ms)
    np.testing.assert_allclose(tt, [0.0, 5e-3])
    np.testing.assert_allclose(rate, [4 / (3 * 5e-3), 2 / (3 * 5e-3)])
    assert math.isnan(A.mean_cv((i[:1], t[:1]), n=3))


def test_window_and_bin_edges() -> None:
    dt = 0.1e-3
    steps = np.array([0, 3, 7, 9, 10, 29, 30])
    t = steps * dt  # 3 * 0.1e-3 is 2.9999...e-4 in floating point
    i = np.zeros_like(steps)
    _, rate = A.population_rate((i, t), 30 * dt * second, n=1, bin=dt * second)
    expected = np.zeros(30)
    expected[steps[steps < 30]] = 1.0 / dt
    np.testing.assert_allclose(rate, expected)  # each spike in its own step's bin
    st = A.spike_trains((i, t), 2 * ms, n=1, t_start=1 * ms)  # steps [10, 30)
    np.testing.assert_allclose(st.t, [10 * dt, 29 * dt])
    assert st.duration == pytest.approx(2e-3)
    inner = A.spike_trains(st, 0.5 * ms, t_start=2.5 * ms)
    np.testing.assert_allclose(inner.t, [29 * dt])
    with pytest.raises(sc.ParameterError, match="outside"):
        A.spike_trains(st, 5 * ms)


def test_smoothed_population_rate_keeps_the_mean_and_the_edges() -> None:
    i, t = _poisson(100, 10.0, 2.0, seed=4)
    _, binned = A.population_rate((i, t), 2 * second, n=100, bin=1 * ms)
    for smooth, width in (("gaussian", 10 * ms), ("box", 25 * ms)):
        _, sm = A.population_rate((i, t), 2 * second, n=100, bin=1 * ms, smooth=smooth,
                                  width=width)
        assert sm.shape == binned.shape and sm.min() >= 0.0
        assert sm.mean() == pytest.approx(binned.mean(), rel=0.02)
        assert sm.std() < 0.5 * binned.std()
        assert sm[0] > 0.5 * binned.mean()  # renormalised at the edge, not halved
    _, box = A.population_rate((i, t), 2000, n=100, bin=1, smooth="box", width=5)  # ms
    inner = np.convolve(binned, np.ones(5) / 5, mode="same")
    np.testing.assert_allclose(box[2:-2], inner[2:-2], atol=1e-9)


def test_pair_sampling_matches_all_pairs_on_average() -> None:
    rng = np.random.default_rng(5)
    n, duration = 60, 4.0
    common = np.sort(rng.uniform(0, duration, 80))
    i_list, t_list = [], []
    for k in range(n):  # half the spikes shared: positive correlations
        own = rng.uniform(0, duration, 80)
        shared = common[rng.random(common.size) < 0.5]
        tk = np.concatenate([own, shared])
        i_list.append(np.full(tk.size, k))
        t_list.append(tk)
    spikes = (np.concatenate(i_list), np.concatenate(t_list))
    duration = duration * second
    everything = A.pairwise_correlation(spikes, duration, n=n, n_pairs=10_000)
    sample = A.pairwise_correlation(spikes, duration, n=n, n_pairs=300, seed=1)
    assert 0.1 < everything < 0.6
    assert sample == pytest.approx(everything, abs=0.03)
    assert sample == A.pairwise_correlation(spikes, duration, n=n, n_pairs=300, seed=1)


def test_bare_numbers_for_time_arguments_are_milliseconds() -> None:
    # spike times given as plain arrays stay in seconds: spikes at 1, 2, 4, 6 and 9.5 ms
    i = np.array([0, 0, 1, 0, 1])
    t = np.array([0.001, 0.002, 0.004, 0.006, 0.0095])
    st = A.spike_trains((i, t), 5, n=2, t_start=1.5)  # the window [1.5 ms, 6.5 ms)
    assert (st.t_start, st.t_stop) == pytest.approx((1.5e-3, 6.5e-3))
    np.testing.assert_allclose(st.t, [2e-3, 6e-3, 4e-3])  # sorted by neuron, then time
    np.testing.assert_allclose(A.firing_rates((i, t), 10, n=2), [300.0, 200.0])
    np.testing.assert_allclose(A.firing_rates((i, t), np.float32(10.0), n=2),
                               A.firing_rates((i, t), 10 * ms, n=2))
    tt, rate = A.population_rate((i, t), 10, n=2, bin=2.5)  # four 2.5 ms bins
    np.testing.assert_allclose(tt, [0.0, 2.5e-3, 5e-3, 7.5e-3])
    np.testing.assert_allclose(rate, np.array([2, 1, 1, 1]) / (2 * 2.5e-3))
    fano = A.fano_factor((i, t), 10, n=2, window=5)  # counts [2, 1] and [1, 1]
    np.testing.assert_allclose(fano, [0.5 / 1.5, 0.0])
    # so a bare sim.t (a float in s) is 1000 times too short: pass sim or sim.t*second
    assert A.spike_trains((i, t), 0.01, n=2).t_stop == pytest.approx(1e-5)


def test_duration_may_be_the_compiled_network() -> None:
    net = sc.Network(dt=0.1 * ms, seed=5)
    with net:
        P = sc.PoissonGroup(20, rates=100 * Hz)
        mon = sc.SpikeMonitor(P)
    sim = net.compile(backend="torch")
    with pytest.raises(sc.ParameterError, match="duration must be > 0"):
        A.firing_rates(mon, sim)  # not run yet: t = 0
    sim.run(100)  # ms, as everywhere in snncc
    assert A.spike_trains(mon, sim).t_stop == pytest.approx(0.1)
    expected = np.bincount(mon.i, minlength=20) / 0.1
    assert expected.sum() > 0
    np.testing.assert_allclose(A.firing_rates(mon, sim), expected)
    np.testing.assert_allclose(A.firing_rates(mon, sim.t * second), expected)
    sim.run(50 * ms)  # sim.t is now 150 ms: the window follows it
    late = A.spike_trains(mon, sim, t_start=20 * ms)  # [t_start, sim.t)
    assert (late.t_start, late.t_stop) == pytest.approx((0.02, 0.15))
    keep = (mon.t.value >= 0.02 - 1e-9) & (mon.t.value < 0.15 - 1e-9)
    np.testing.assert_allclose(A.firing_rates(mon, sim, t_start=20),
                               np.bincount(mon.i[keep], minlength=20) / 0.13)
    # anything with .t (in s) and .dt, as the runtime's network
    np.testing.assert_allclose(A.firing_rates(mon, SimpleNamespace(t=0.15, dt=1e-4)),
                               np.bincount(mon.i, minlength=20) / 0.15)
    with pytest.raises(sc.ParameterError, match="before t_start"):
        A.firing_rates(mon, sim, t_start=200 * ms)


# ------------------------------------------------------------------ networks
def test_regular_lif_network_matches_the_analytical_period() -> None:
    n = 20
    net, mon, ratemon = _lif_network(n, "16*mV + 14*mV*i/N")
    sim = net.compile(backend="torch")
    sim.run(500 * ms)
    current = 16e-3 + 14e-3 * np.arange(n) / n
    period = 2e-3 + 10e-3 * np.log(current / (current - 15e-3))  # refractory + charging
    mean_isi = np.array([d.mean() for d in A.isi(mon)])
    np.testing.assert_allclose(mean_isi, period, atol=2e-4)  # within two steps
    assert np.nanmax(A.cv_isi(mon)) < 0.01
    rates = A.firing_rates(mon, sim)  # duration=sim: the 500 ms it has run
    np.testing.assert_array_equal(rates * 0.5, mon.count)
    _, rate = A.population_rate(mon, sim, bin=sim.dt * second)  # sim.dt is a float in s
    np.testing.assert_allclose(rate, ratemon.rate.value)  # the monitor's own definition


def test_identical_lif_neurons_are_fully_synchronous() -> None:
    net, mon, _ = _lif_network(30, 20 * mV)
    sim = net.compile(backend="torch")
    sim.run(300 * ms)
    assert mon.num_spikes > 30 * 10
    assert A.synchrony(mon, sim) == pytest.approx(1.0, abs=1e-12)
    assert A.pairwise_correlation(mon, sim.t * second) == pytest.approx(1.0, abs=1e-9)


def test_poisson_group_statistics() -> None:
    net = sc.Network(dt=0.1 * ms, seed=3)
    with net:
        P = sc.PoissonGroup(200, rates=40 * Hz)
        mon = sc.SpikeMonitor(P)
    sim = net.compile(backend="torch")
    sim.run(2 * second)
    assert A.mean_rate(mon, sim) == pytest.approx(40.0, rel=0.03)
    assert A.mean_cv(mon) == pytest.approx(1.0, abs=0.05)  # geometric ISIs: sqrt(1 - p)
    assert np.nanmean(A.fano_factor(mon, sim)) == pytest.approx(1.0, abs=0.06)
    assert A.synchrony(mon, sim, bin=2 * ms) < 2 / math.sqrt(200)
    assert abs(A.pairwise_correlation(mon, sim)) < 0.02


def test_batch_elements_are_analysed_separately() -> None:
    net = sc.Network(dt=0.1 * ms, seed=7)
    with net:
        P = sc.PoissonGroup(10, rates=50 * Hz)
        mon = sc.SpikeMonitor(P)
    sim = net.compile(backend="torch", batch=2)  # independent Poisson draws per element
    sim.run(100 * ms)
    assert set(np.unique(mon.b)) == {0, 1}
    for b in (0, 1):
        keep = mon.b == b
        expected = np.bincount(mon.i[keep], minlength=10) / 0.1
        np.testing.assert_allclose(A.firing_rates(mon, sim, batch=b), expected)
        by_tuple = A.firing_rates((mon.i, mon.t, mon.b), sim, n=10, batch=b)
        np.testing.assert_allclose(by_tuple, expected)
    assert not np.array_equal(A.firing_rates(mon, sim, batch=0),
                              A.firing_rates(mon, sim, batch=1))


@pytest.mark.brian2
def test_brian2_monitors_and_smooth_rate() -> None:
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"  # as tests/brian2_util.py: no compiler needed
    b2.seed(11)
    group = b2.PoissonGroup(100, 30 * b2.Hz, dt=0.1 * b2.ms)  # the monitors use its clock
    mon = b2.SpikeMonitor(group)
    rmon = b2.PopulationRateMonitor(group)
    net = b2.Network(group, mon, rmon)
    net.run(300 * b2.ms)
    _, rate = A.population_rate(mon, 300 * b2.ms, bin=0.1 * b2.ms)
    np.testing.assert_allclose(rate, np.asarray(rmon.rate))
    _, box = A.population_rate(mon, 300, bin=0.1, smooth="box", width=5 * b2.ms)  # ms
    ref = np.asarray(rmon.smooth_rate("flat", 5 * b2.ms))
    np.testing.assert_allclose(box[25:-25], ref[25:-25], rtol=1e-9)  # Brian2: no edge fix
    counts = np.bincount(np.asarray(mon.i), minlength=100)
    np.testing.assert_allclose(A.firing_rates(mon, 0.3 * b2.second), counts / 0.3)
    with pytest.raises(sc.UnitError, match="bin must be a single finite time"):
        A.population_rate(mon, 300, bin=5 * b2.mV)


# ------------------------------------------------------------------ weights
def test_weight_matrix_of_explicit_connections() -> None:
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        G = sc.NeuronGroup(6, "cuba")
        C = sc.Connection(G[:3], G[2:], i=[0, 1, 2, 2], j=[0, 3, 1, 1], on_pre="ge += w",
                          weight=np.array([1.0, 2.0, 3.0, 4.0]) * mV)
        D = sc.Connection(G, G, connect="one_to_one", on_pre="gi += wi",
                          params={"wi": -2 * mV})
    sim = net.compile(backend="torch", batch=2)
    W = A.weight_matrix(sim, C)
    expected = np.full((3, 4), np.nan)
    expected[0, 0], expected[1, 3], expected[2, 1] = 1e-3, 2e-3, 7e-3  # 3 + 4 summed
    np.testing.assert_allclose(W, expected, rtol=1e-6)
    whole = A.weight_matrix(sim, C.name)  # by name: the whole populations, 6 x 6
    assert whole.shape == (6, 6) and whole[0, 2] == pytest.approx(1e-3)
    np.testing.assert_allclose(A.weight_matrix(sim, D, "wi", batch=1),
                               np.where(np.eye(6, dtype=bool), -2e-3, np.nan))
    sim.get(C.name, "w")[1].mul_(2.0)  # batch elements hold their own weights
    assert A.weight_matrix(sim, C, batch=1)[0, 0] == pytest.approx(2e-3)
    with pytest.raises(sc.NetworkError, match="no per-synapse variable 'x'"):
        A.weight_matrix(sim, C, "x")
    with pytest.raises(sc.NetworkError, match="no connection named 'nope'"):
        A.weight_matrix(sim, "nope")
    with pytest.raises(sc.ParameterError, match="batch"):
        A.weight_matrix(sim, C, batch=2)


# ------------------------------------------------------------------ errors
def test_errors_name_the_argument() -> None:
    i, t = np.array([0, 1]), np.array([0.001, 0.002])
    with pytest.raises(sc.ParameterError, match="duration must be >= 0"):
        A.firing_rates((i, t), -1 * ms, n=2)
    with pytest.raises(sc.ParameterError, match="duration must be > 0"):
        A.firing_rates((i, t), 0.0, n=2)
    with pytest.raises(sc.ParameterError, match="needs duration=.*duration=sim"):
        A.firing_rates((i, t), n=2)
    for bad in (0.0, -1 * ms):
        with pytest.raises(sc.ParameterError, match="bin must be > 0"):
            A.population_rate((i, t), 10 * ms, n=2, bin=bad)
        with pytest.raises(sc.ParameterError, match="window must be > 0"):
            A.fano_factor((i, t), 10 * ms, n=2, window=bad)
    with pytest.raises(sc.ParameterError, match="at least 2 windows"):
        A.fano_factor((i, t), 10 * ms, n=2, window=8 * ms)
    with pytest.raises(sc.ParameterError, match="bin=0.02 s is longer"):
        A.synchrony((i, t), 10 * ms, n=2, bin=20 * ms)
    hint = r"a time such as 5\*ms; a bare number means ms"
    with pytest.raises(sc.UnitError, match=f"bin must be a single finite time: {hint}; "
                                           "got a quantity of dimension volt"):
        A.synchrony((i, t), 10 * ms, n=2, bin=5 * mV)
    with pytest.raises(sc.UnitError, match=f"duration must .*{hint}; got '10 ms'"):
        A.firing_rates((i, t), "10 ms", n=2)
    with pytest.raises(sc.UnitError, match=f"t_start must .*{hint}; got True"):
        A.firing_rates((i, t), 10, n=2, t_start=True)
    with pytest.raises(sc.UnitError, match=r"window must .*got an array of shape \(2,\)"):
        A.fano_factor((i, t), 10, n=2, window=np.array([1.0, 2.0]) * ms)
    with pytest.raises(sc.ParameterError, match=f"width must be a single finite time: {hint}"):
        A.population_rate((i, t), 10, n=2, smooth="box", width=math.inf)
    with pytest.raises(sc.ParameterError, match="needs width="):
        A.population_rate((i, t), 10 * ms, n=2, smooth="gaussian")
    with pytest.raises(sc.ParameterError, match="smooth must be"):
        A.population_rate((i, t), 10 * ms, n=2, smooth="triangle", width=1 * ms)
    with pytest.raises(sc.ParameterError, match="n .the number of neurons. is required"):
        A.firing_rates((i, t), 10 * ms)
    with pytest.raises(sc.ParameterError, match=r"indices must lie in \[0, n=1\)"):
        A.firing_rates((i, t), 10 * ms, n=1)
    with pytest.raises(sc.ShapeError, match="one entry per spike"):
        A.firing_rates((i, t[:1]), 10 * ms, n=2)
    with pytest.raises(sc.ParameterError, match="batch must be a non-negative integer"):
        A.firing_rates((i, t), 10 * ms, n=2, batch=-1)
    with pytest.raises(sc.ParameterError, match="carry no batch index"):
        A.firing_rates((i, t), 10 * ms, n=2, batch=1)
    with pytest.raises(sc.ParameterError, match="n_pairs"):
        A.pairwise_correlation((i, t), 10 * ms, n=2, n_pairs=0)
    with pytest.raises(sc.ParameterError, match="SpikeMonitor, a tuple"):
        A.firing_rates(np.zeros(3), 10 * ms, n=2)
    net, mon, _ = _lif_network(3, 20 * mV)
    with pytest.raises(sc.NetworkError, match="compile the network and run it first"):
        A.firing_rates(mon, 100 * ms)
    net.compile()  # bound, not run: no spikes yet, but the size is known
    np.testing.assert_array_equal(A.firing_rates(mon, 100 * ms), np.zeros(3))
    with pytest.raises(sc.ShapeError, match="n=5 does not match the 3 neurons"):
        A.spike_trains(mon, 100 * ms, n=5)
