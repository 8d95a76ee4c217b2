"""examples/microcircuit.py (the Potjans-Diesmann microcircuit) and the quick mode of
benchmarks/microcircuit.py, at tiny scales."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from snncc.errors import ParameterError
from snncc.units import ms

ROOT = Path(__file__).resolve().parent.parent
SCALE, K_SCALE = 0.005, 0.1  # 385 neurons, 149,442 synapses


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while it executes
    spec.loader.exec_module(mod)
    return mod


mc = _load(ROOT / "examples" / "microcircuit.py", "microcircuit_example_test")


@pytest.fixture
def circuit(fresh_seed: int) -> object:
    """The microcircuit at scale 0.005 (built in a fraction of a second), fresh draws."""
    return mc.build(SCALE, K_SCALE, seed=fresh_seed)


def test_full_network_matches_the_published_numbers() -> None:
    d = mc.derive(1.0, 1.0)
    assert d.offsets[-1] == 77169
    assert 2.95e8 < d.synapses.sum() < 3.0e8  # "~0.3 billion synapses"
    # the number of uniform draws gives each pair the published probability: in-degree
    # -ln(1 - p) N_pre ~ p N_pre
    k = d.synapses / mc.N_FULL[:, None]
    expected = -np.log1p(-mc.CONN_PROBS) * mc.N_FULL[None, :]
    np.testing.assert_allclose(k, expected, rtol=1e-3, atol=0.5)
    assert mc.psc_per_psp() * mc.PSP_E_MV == pytest.approx(87.81, abs=0.01)  # NEST's 87.8 pA
    np.testing.assert_allclose(d.dc_pa[0], 8 * 1600 * 87.81 * 0.5e-3, rtol=1e-3)


def test_k_scale_divides_weights_by_its_root_and_keeps_the_mean_input() -> None:
    full, half = mc.derive(1.0, 1.0), mc.derive(1.0, 0.25)  # large counts: no rounding
    np.testing.assert_allclose(half.weight_pa, 2 * full.weight_pa)
    # recurrent input at the published rates plus DC is the same (pA)
    def mean_input(d: object) -> np.ndarray:
        k = d.synapses / d.sizes[:, None]
        rec = (d.weight_pa * k * mc.PUBLISHED_RATES_HZ[None, :]).sum(1) * mc.TAU_SYN_MS * 1e-3
        return rec + d.dc_pa
    np.testing.assert_allclose(mean_input(half), mean_input(full), rtol=1e-4)


def test_population_sizes_and_synapse_counts(circuit: object) -> None:
    d = circuit.derived
    np.testing.assert_array_equal(d.sizes, np.round(mc.N_FULL * SCALE).astype(int))
    assert circuit.neurons.size == d.sizes.sum() == d.offsets[-1]
    np.testing.assert_array_equal(
        d.synapses, np.round(mc.full_synapse_counts() * SCALE * K_SCALE).astype(int))
    # one connection per source population (L5I, L6I project to few targets, all do)
    assert len(circuit.connections) == 8
    seen = np.zeros((8, 8), dtype=np.int64)
    for c in circuit.connections:
        s = mc.POPULATIONS.index(c.name.removeprefix("from_"))
        assert (c.pre.start, c.pre.stop) == (d.offsets[s], d.offsets[s + 1])
        t = np.searchsorted(d.offsets, c.j, side="right") - 1
        seen[:, s] = np.bincount(t, minlength=8)
        for tt in np.unique(t):  # sources drawn uniformly: the mean index within 5 sd
            i = c.i[t == tt]
            sd = np.sqrt((d.sizes[s] ** 2 - 1) / 12 / i.size)
            assert abs(i.mean() - (d.sizes[s] - 1) / 2) < 5 * sd + 1e-9, (s, tt)
    np.testing.assert_array_equal(seen, d.synapses)
    assert circuit.num_synapses == d.synapses.sum()


def test_weights_and_delays(circuit: object) -> None:
    d = circuit.derived
    for c in circuit.connections:
        s = mc.POPULATIONS.index(c.name.removeprefix("from_"))
        w = np.asarray(c.weight.value) * 1e12  # pA
        delay = np.asarray(c.delay.value) * 1e3  # ms
        assert (w > 0).all() if mc.EXCITATORY[s] else (w < 0).all()
        assert delay.min() >= mc.DT_MS - 1e-12
        mean = mc.DELAY_MEAN_MS[s]  # clipping at dt raises the mean by < 0.01 ms
        assert abs(delay.mean() - mean) < 0.01 + 5 * 0.5 * mean / np.sqrt(delay.size)
        t = np.searchsorted(d.offsets, c.j, side="right") - 1
        for tt in np.unique(t):
            wt = w[t == tt]
            expected = d.weight_pa[tt, s]
            assert abs(wt.mean() - expected) < 5 * 0.1 * abs(expected) / np.sqrt(wt.size)
    l4e_to = circuit.connections[2]
    assert l4e_to.name == "from_L4E"
    w = np.asarray(l4e_to.weight.value)
    t = np.searchsorted(d.offsets, l4e_to.j, side="right") - 1
    assert w[t == 0].mean() / w[t == 2].mean() == pytest.approx(2.0, rel=0.05)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ParameterError, match="scale must be in"):
        mc.derive(0.0)
    with pytest.raises(ParameterError, match="k_scale must be in"):
        mc.derive(0.1, 1.5)
    with pytest.raises(ParameterError, match="leaves a population empty"):
        mc.derive(1e-4)
    with pytest.raises(ParameterError, match="unknown background 'noise'; use one of 'dc', "
                                             "'poisson'"):
        mc.derive(0.1, background="noise")


def test_runs_and_rates_are_per_population(circuit: object) -> None:
    sim = circuit.net.compile(backend="torch", device="cpu", dtype=torch.float32)
    sim.run(20 * ms)
    rates = circuit.rates_hz(0.0, 20.0)
    assert rates.shape == (8,) and np.isfinite(rates).all()
    i = circuit.spikes.i
    assert circuit.spikes.num_spikes > 0
    off = circuit.derived.offsets
    counts = [((i >= off[p]) & (i < off[p + 1])).sum() for p in range(8)]
    np.testing.assert_allclose(rates, np.array(counts) / circuit.derived.sizes / 0.02)


@pytest.mark.brian2
def test_same_spikes_as_brian2_at_first(fresh_seed: int) -> None:
    """snncc (float64) and Brian2 (numpy) on the same drawn network: identical spikes for
    the first 50 ms (delays, weights, DC and the exact integration all take part). 20 ms
    held only the initial spikes for some draws (seed 785126597: 2 later spikes); in 50 ms
    each of 30 drawn networks fired at least 33 times after step 0."""
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = mc.DT_MS * b2.ms
    circuit = mc.build(SCALE, K_SCALE, seed=fresh_seed)
    sim = circuit.net.compile(backend="torch", device="cpu", dtype=torch.float64)
    sim.run(50 * ms)
    d = circuit.derived
    off = d.offsets
    ns = {"E_L": mc.E_L_MV * b2.mV, "V_reset": mc.V_RESET_MV * b2.mV,
          "V_th": mc.V_TH_MV * b2.mV, "tau_m": mc.TAU_M_MS * b2.ms, "C_m": mc.C_M_PF * b2.pF,
          "tau_syn": mc.TAU_SYN_MS * b2.ms}
    g = b2.NeuronGroup(int(off[-1]), mc.MODEL.equations.text, threshold="v > V_th",
                       reset="v = V_reset", refractory=mc.T_REF_MS * b2.ms, method="exact",
                       namespace=ns)
    g.v = mc.initial_v_mv(d, fresh_seed) * b2.mV
    g.I_dc = np.repeat(d.dc_pa, d.sizes) * b2.pA
    objects: list[object] = [g]
    for p in mc.draw_pathways(d, fresh_seed):
        syn = b2.Synapses(g[off[p.source]:off[p.source + 1]], g, "w : amp",
                          on_pre="I_post += w")
        syn.connect(i=p.i, j=p.j)
        syn.w, syn.delay = p.weight_pa * b2.pA, p.delay_ms * b2.ms
        objects.append(syn)
    mon = b2.SpikeMonitor(g)
    b2.Network(*objects, mon).run(50 * b2.ms)
    ours = sorted(zip(np.round(np.asarray(circuit.spikes.t / ms) / mc.DT_MS).astype(int),
                      circuit.spikes.i))
    theirs = sorted(zip(np.round(np.asarray(mon.t / b2.ms) / mc.DT_MS).astype(int),
                        np.asarray(mon.i)))
    assert sum(step > 0 for step, _ in theirs) >= 10  # not only the initial spikes
    assert ours == theirs


def test_benchmark_quick_mode_writes_results(tmp_path: Path) -> None:
    bench = _load(ROOT / "benchmarks" / "microcircuit.py", "bench_microcircuit_test")
    assert bench.main(["--quick", "--threads", "1", "--out", str(tmp_path)]) == 0
    files = sorted(tmp_path.glob("microcircuit_*.json"))
    assert len(files) == 1, files
    assert files[0].with_suffix(".md").exists()
    data = json.loads(files[0].read_text())
    assert {"benchmark", "date", "config", "machine", "rows", "populations",
            "published_rates_hz", "command"} <= set(data)
    assert data["config"]["quick"] and data["config"]["scales"] == [SCALE]
    rows = {r["implementation"]: r for r in data["rows"]}
    assert set(rows) == {"snncc (torch, float32)", "Brian2 (numpy)"}, rows
    for name, r in rows.items():
        assert r["status"] == "ok", (name, r.get("error"))
        assert r["scale"] == SCALE and r["k_scale"] == K_SCALE
        assert r["neurons"] == 385 and r["synapses"] == 149442
        for key in ("build_s", "compile_s", "s_per_sim_s", "bytes_per_synapse"):
            assert r[key] > 0, (name, key)
        assert len(r["rates_hz"]) == 8
    # the same network, the same 5 ms: the same population rates in float32 and Brian2
    # (within one spike per population: float32 rounding may move a spike at most)
    one_spike = 1 / mc.derive(SCALE, K_SCALE).sizes / 5e-3
    diff = np.abs(np.subtract(rows["snncc (torch, float32)"]["rates_hz"],
                              rows["Brian2 (numpy)"]["rates_hz"]))
    assert (diff <= one_spike + 1e-9).all(), diff


def test_poisson_background_has_the_dc_backgrounds_mean(fresh_seed: int) -> None:
    """The Poisson background (PoissonInput per population, k_scale * K_ext sources of
    weight J_ext / sqrt(k_scale), plus the DC that restores the mean) drives each
    population with the same mean current as the DC background."""
    dc, po = mc.derive(SCALE, K_SCALE, "dc"), mc.derive(SCALE, K_SCALE, "poisson")
    mean = mc.BG_RATE_HZ * po.poisson_sources * po.poisson_weight_pa * mc.TAU_SYN_MS * 1e-3
    np.testing.assert_allclose(po.dc_pa + mean, dc.dc_pa, rtol=2e-3)  # rounding of N
    circuit = mc.build(SCALE, K_SCALE, seed=fresh_seed, background="poisson")
    sim = circuit.net.compile(backend="torch", device="cpu", dtype=torch.float32)
    assert [f"bg_{p}" for p in mc.POPULATIONS] == list(sim.program.inputs)
    sim.run(20 * ms)
    rates = circuit.rates_hz(0.0, 20.0)
    assert np.isfinite(rates).all() and circuit.spikes.num_spikes > 0
