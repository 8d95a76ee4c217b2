"""The triton backend beyond the equivalence suite: synaptic code that writes synapse
and neuron variables (STDP), resets that synapses observe, batches, refractoriness by
condition, the device step loop (chunk boundaries, continuation, state_dict), counter-based
randomness, generated source, and its errors.

On a machine without CUDA the kernels run in Triton's CPU interpreter (snncc turns it on);
the last tests need a GPU (``-m gpu``) and check real compilation and CUDA graphs.
Deterministic networks must give the float64 torch reference's spikes exactly in float64:
both compute the same operations in the same order, except the order of atomic adds onto
one neuron (a few ulps), far from any threshold on these runs' time scale.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.units import ms, mV

try:
    from snncc.kernels import import_triton

    import_triton()
except ImportError:  # pragma: no cover - triton is in the test extra
    pytest.skip("triton is not installed", allow_module_level=True)

DT = 0.1
# where CUDA is available Triton runs compiled, on the GPU; elsewhere in its interpreter
TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _device(backend: str) -> str:
    return TRITON_DEVICE if backend == "triton" else "cpu"


def _spikes(mon: sc.SpikeMonitor) -> list[tuple[int, int]]:
    steps = np.round(np.asarray(mon.t / ms) / DT).astype(int)
    return sorted(zip(steps.tolist(), np.asarray(mon.i).tolist()))


def _trains(rng: np.random.Generator, n_in: int, steps: int, p: float
            ) -> tuple[np.ndarray, object]:
    """Random input spike trains for a SpikeGeneratorGroup: each source spikes with
    probability ``p`` per step; returns (indices, times)."""
    flat = rng.choice(n_in * steps, size=int(n_in * steps * p), replace=False)
    step, idx = np.divmod(flat, n_in)
    return idx, step * DT * ms


def _run_both(build, duration_ms: float, dtype=torch.float64, **kw):
    """Build the network twice (same seed) and run it on torch and triton."""
    out = {}
    for backend in ("torch", "triton"):
        net, mons = build()
        sim = net.compile(backend=backend, device=_device(backend), dtype=dtype, **kw)
        sim.run(duration_ms * ms)
        out[backend] = (sim, mons)
    return out


def _stdp_net(seed: int, batch_drive: bool = False):
    def build():
        rng = np.random.default_rng(seed)
        n_in = 40
        idx, times = _trains(rng, n_in, 600, 0.02)
        stdp = sc.SynapseModel(
            """w : 1
            dapre/dt = -apre/(20*ms) : 1 (event-driven)
            dapost/dt = -apost/(20*ms) : 1 (event-driven)""",
            on_pre="v_post += w*mV; apre += 0.05; w = clip(w + apost, 0, 4)",
            on_post="apost -= 0.06; w = clip(w + apre, 0, 4)")
        net = sc.Network(dt=DT * ms, seed=seed)
        with net:
            inp = sc.SpikeGeneratorGroup(n_in, idx, times, name="inp")
            G = sc.NeuronGroup(12, "lif", params={"I": 14 * mV}, name="G",
                               init={"v": "El + rand()*(Vt - El)"})
            C = sc.Connection(inp, G, model=stdp, p=0.5, weight="1 + 2*rand()", name="C",
                              delay="floor(3*rand())*0.5*ms")
            sp = sc.SpikeMonitor(G)
            vm = sc.StateMonitor(G, "v", record=[0, 3, 7])
        return net, (sp, vm, C)
    return build


def test_stdp_matches_torch_exactly(fresh_seed: int) -> None:
    """Event-driven traces, weight updates on_pre and on_post, delays: same spikes,
    traces and final weights as the float64 torch reference."""
    out = _run_both(_stdp_net(fresh_seed), 60.0)
    (s0, (sp0, vm0, _)), (s1, (sp1, vm1, _)) = out["torch"], out["triton"]
    assert len(_spikes(sp0)) > 20
    assert _spikes(sp0) == _spikes(sp1)
    np.testing.assert_allclose(np.asarray(vm1.v / mV), np.asarray(vm0.v / mV), rtol=0,
                               atol=1e-9)
    w0, w1 = s0.get("C", "w").cpu().numpy(), s1.get("C", "w").cpu().numpy()
    assert not np.allclose(w0, w0.mean()), "the weights should have changed"
    np.testing.assert_allclose(w1, w0, rtol=1e-12, atol=1e-12)


def test_reset_after_synapses_as_in_brian2(fresh_seed: int) -> None:
    """A synapse that writes the variable the reset sets: the reset runs after the
    pathways (a separate kernel), so a neuron that spiked ends at Vr, as in Brian2."""
    def build():
        net = sc.Network(dt=DT * ms, seed=fresh_seed)
        with net:
            G = sc.NeuronGroup(30, "lif", params={"I": 20 * mV}, name="G",
                               init={"v": "El + rand()*(Vt - El)"})
            sc.Connection(G, G, on_pre="v_post += 0.8*mV", p=0.3, name="rec")
            sp = sc.SpikeMonitor(G)
            vm = sc.StateMonitor(G, "v")
        return net, (sp, vm)
    out = _run_both(build, 50.0)
    src = out["triton"][0].source()
    assert "def G_reset(" in src, "the reset must be its own kernel here"
    (_, (sp0, vm0)), (_, (sp1, vm1)) = out["torch"], out["triton"]
    assert len(_spikes(sp0)) > 30
    assert _spikes(sp0) == _spikes(sp1)
    np.testing.assert_allclose(np.asarray(vm1.v / mV), np.asarray(vm0.v / mV), atol=1e-9)


def test_fused_reset_when_synapses_do_not_observe_it() -> None:
    net = sc.Network(dt=DT * ms, seed=1)
    with net:
        P = sc.NeuronGroup(20, "cuba", name="P")
        sc.Connection(P, P, on_pre="ge += 1*mV", p=0.2, name="C")
    src = net.compile(backend="triton", device=TRITON_DEVICE).source()
    assert "def P_reset(" not in src
    assert "# reset: v = Vr" in src


def test_batch_and_condition_refractoriness(fresh_seed: int) -> None:
    """batch > 1 (independent copies, per-copy state) and refractoriness given as a
    condition (a not_refractory flag)."""
    model = sc.NeuronModel(
        "dv/dt = (I - v)/(10*ms) : volt (unless refractory)\nI : volt",
        threshold="v > 10*mV", reset="v = 0*mV", refractory="v > 5*mV")

    def build():
        rng = np.random.default_rng(fresh_seed)
        net = sc.Network(dt=DT * ms, seed=fresh_seed)
        with net:
            G = sc.NeuronGroup(16, model, params={"I": rng.uniform(12, 30, 16) * mV},
                               init={"v": "rand()*10*mV"}, name="G")
            H = sc.NeuronGroup(8, "lif", params={"I": 12 * mV}, name="H")
            sc.Connection(G, H, on_pre="v_post += 1*mV", p=0.5, name="GH")
            sp = sc.SpikeMonitor(G)
            sh = sc.SpikeMonitor(H)
        return net, (sp, sh)
    out = {}
    for backend in ("torch", "triton"):
        net, mons = build()
        sim = net.compile(backend=backend, device=_device(backend), dtype=torch.float64,
                          batch=3)
        sim.run(40 * ms)
        out[backend] = (sim, mons)
    for k in range(2):
        m0, m1 = out["torch"][1][k], out["triton"][1][k]
        a = sorted(zip(np.asarray(m0.b).tolist(), np.asarray(m0.i).tolist(),
                       np.round(np.asarray(m0.t / ms) / DT).astype(int).tolist()))
        b = sorted(zip(np.asarray(m1.b).tolist(), np.asarray(m1.i).tolist(),
                       np.round(np.asarray(m1.t / ms) / DT).astype(int).tolist()))
        assert len(a) > 10 and a == b
    np.testing.assert_allclose(out["triton"][0].get("G", "v").cpu().numpy(),
                               out["torch"][0].get("G", "v").cpu().numpy(), atol=1e-12)


def _delay_net(seed: int):
    """Spike trains -> LIF layer with per-synapse delays and recurrent input (lighter than
    the STDP network: the chunk test runs it three times)."""
    def build():
        rng = np.random.default_rng(seed)
        n_in = 30
        idx, times = _trains(rng, n_in, 400, 0.03)
        net = sc.Network(dt=DT * ms, seed=seed)
        with net:
            inp = sc.SpikeGeneratorGroup(n_in, idx, times, name="inp")
            G = sc.NeuronGroup(12, "lif", params={"I": 14 * mV}, name="G",
                               init={"v": "El + rand()*(Vt - El)"})
            sc.Connection(inp, G, on_pre="v_post += 2*mV", p=0.5, name="C",
                          delay="floor(3*rand())*0.5*ms")
            sp = sc.SpikeMonitor(G)
            vm = sc.StateMonitor(G, "v", record=[0, 3, 7])
        return net, (sp, vm)
    return build


def test_chunks_continuation_and_state_dict(fresh_seed: int,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording buffers smaller than the run (many chunks), two runs in a row, and a
    state_dict restore give the same spikes and traces as one long run."""
    build = _delay_net(fresh_seed)
    net, (sp, vm) = build()
    ref = net.compile(backend="triton", device=TRITON_DEVICE, dtype=torch.float64)
    ref.run(30 * ms)
    full = (_spikes(sp), np.asarray(vm.v / mV).copy())
    assert len(full[0]) > 10

    monkeypatch.setenv("SNNCC_RECORD_BYTES", "200")  # a few steps per chunk
    net, (sp, vm) = build()
    sim = net.compile(backend="triton", device=TRITON_DEVICE, dtype=torch.float64)
    assert sim._ensure_step().chunk < 10
    sim.run(12 * ms)
    saved = {k: v.clone() for k, v in sim.state_dict().items()}
    sim.run(18 * ms)
    assert _spikes(sp) == full[0]
    np.testing.assert_array_equal(np.asarray(vm.v / mV), full[1])
    # back to 12 ms and again: the same continuation
    sim.load_state_dict(saved)
    sim.run(18 * ms)
    assert _spikes(sp) == full[0]
    np.testing.assert_array_equal(np.asarray(vm.v / mV), full[1])


def test_poisson_is_reproducible_and_has_its_rate(fresh_seed: int) -> None:
    """Counter-based draws: the same seed gives the same spikes (also after a
    state_dict round trip); the rate matches within 6 standard errors; another seed
    gives other spikes."""
    def run(seed: int, ms_: float = 25.0):
        net = sc.Network(dt=DT * ms, seed=seed)
        with net:
            Q = sc.PoissonGroup(200, rates="(40 + 120*i/N)*Hz", name="Q")
            sp = sc.SpikeMonitor(Q)
        sim = net.compile(backend="triton", device=TRITON_DEVICE)
        sim.run(ms_ * ms)
        return sim, sp
    _, a = run(fresh_seed)
    _, b = run(fresh_seed)
    _, c = run(fresh_seed + 1)
    assert _spikes(a) == _spikes(b)
    assert _spikes(a) != _spikes(c)
    expected = 200 * 100.0 * 0.025  # 200 sources, mean rate 100 Hz, 25 ms
    n = len(_spikes(a))
    assert abs(n - expected) < 6 * np.sqrt(expected), n
    counts = np.bincount(np.asarray(a.i), minlength=200)
    assert counts[150:].sum() > counts[:50].sum(), "rates grow with i"


def test_noise_and_rand_in_code_are_reproducible(fresh_seed: int) -> None:
    model = sc.NeuronModel("dv/dt = -v/tau + sigma*xi/sqrt(tau) : 1",
                           threshold="v > 0.2 + 0.1*rand()", reset="v = 0",
                           params={"tau": 10 * ms, "sigma": 0.5})

    def run():
        net = sc.Network(dt=DT * ms, seed=fresh_seed)
        with net:
            G = sc.NeuronGroup(50, model, name="G")
            sp = sc.SpikeMonitor(G)
        sim = net.compile(backend="triton", device=TRITON_DEVICE)
        sim.run(25 * ms)
        return _spikes(sp), sim.get("G", "v").cpu().numpy()
    (s1, v1), (s2, v2) = run(), run()
    assert len(s1) > 10 and s1 == s2
    np.testing.assert_array_equal(v1, v2)


def test_source_and_describe() -> None:
    net = sc.Network(dt=DT * ms, seed=0)
    with net:
        P = sc.NeuronGroup(20, "cuba", name="P")
        sc.Connection(P, P, on_pre="ge += 6*mV", p=0.5, name="PP")
        sc.SpikeMonitor(P, name="spk")
    sim = net.compile(backend="triton", device=TRITON_DEVICE)
    src = sim.source()
    for eq in sc.library.get("cuba").equations.diff:
        assert f"# {eq.text}" in src or eq.text in src, eq.text
    assert "# threshold: v > Vt" in src and "# on_pre: ge += 6*mV" in src
    assert "@triton.jit(" in src and "def P_neurons(" in src and "def PP_on_pre(" in src
    assert "backend: triton" in sim.describe()
    compile(src, "<generated>", "exec")


def test_auto_backend_is_torch_on_cpu() -> None:
    net = sc.Network(dt=DT * ms, seed=0)
    with net:
        sc.NeuronGroup(5, "lif", name="G")
    assert net.compile(backend="auto").backend_name == "torch"


def test_atomic_multiply_is_refused_with_a_fix() -> None:
    net = sc.Network(dt=DT * ms, seed=0)
    with net:
        G = sc.NeuronGroup(5, "lif", name="G")
        sc.Connection(G, G, on_pre="v_post *= 0.5", name="C")
    with pytest.raises(sc.BackendError, match=r"C.*v_post \*= 0.5.*backend='torch'"):
        net.compile(backend="triton", device=TRITON_DEVICE)
    net.compile(backend="torch")  # the torch backend runs it


def test_cpu_without_interpreter_is_a_clear_error() -> None:
    """Triton imported in compiled mode before snncc on a machine without CUDA."""
    if torch.cuda.is_available():
        pytest.skip("CUDA is available: compiled Triton works")
    code = ("import triton, snncc as sc\n"
            "net = sc.Network(dt=0.1, seed=0)\n"
            "with net:\n    sc.NeuronGroup(3, 'lif')\n"
            "try:\n    net.compile(backend='triton')\n"
            "except sc.BackendError as e:\n    print('ERR', e)\n")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120)
    assert "ERR" in out.stdout and "TRITON_INTERPRET=1" in out.stdout, out.stdout + out.stderr


@pytest.mark.gpu
def test_cuda_graph_run_matches_eager_launches(fresh_seed: int) -> None:
    """On a GPU: real Triton compilation; a run replayed from CUDA graphs equals one
    launched step by step, and both equal the float64 torch reference."""
    build = _stdp_net(fresh_seed)
    res = {}
    for graph in (True, False):
        net, (sp, vm, _) = build()
        sim = net.compile(backend="triton", device="cuda", dtype=torch.float64,
                          cuda_graph=graph)
        sim.run(60 * ms)
        assert (sim._ensure_step().graph is not None) == graph
        res[graph] = (_spikes(sp), np.asarray(vm.v / mV).copy())
    net, (sp, vm, _) = build()
    net.compile(backend="torch", dtype=torch.float64).run(60 * ms)
    assert res[True][0] == res[False][0] == _spikes(sp)
    np.testing.assert_allclose(res[True][1], np.asarray(vm.v / mV), atol=1e-9)


@pytest.mark.parametrize("p", [None, 0.6], ids=["full", "p0.6"])
def test_dense_spike_matmul_matches_torch(fresh_seed: int, p: float | None) -> None:
    """Dense connectivity with additive on_pre code runs as a spike-matmul (no atomics);
    same spikes and traces as the float64 torch reference, also with batch > 1."""
    def build():
        rng = np.random.default_rng(fresh_seed)
        n_in = 30
        idx, times = _trains(rng, n_in, 400, 0.03)
        net = sc.Network(dt=DT * ms, seed=fresh_seed)
        with net:
            inp = sc.SpikeGeneratorGroup(n_in, idx, times, name="inp")
            G = sc.NeuronGroup(20, "lif", params={"I": 10 * mV}, name="G",
                               init={"v": "El + rand()*(Vt - El)"})
            kw = {} if p is None else {"p": p}
            sc.Connection(inp, G, on_pre="v_post += w*mV", weight="0.4 + 0.3*rand()",
                          delay=0.3 * ms, name="C", **kw)
            sp = sc.SpikeMonitor(G)
            vm = sc.StateMonitor(G, "v", record=[0, 5])
        return net, (sp, vm)
    out = {}
    for backend in ("torch", "triton"):
        net, mons = build()
        sim = net.compile(backend=backend, device=_device(backend), dtype=torch.float64,
                          batch=2)
        sim.run(40 * ms)
        out[backend] = (sim, mons)
    assert "dense spike-matmul" in out["triton"][0].source()
    (_, (sp0, vm0)), (_, (sp1, vm1)) = out["torch"], out["triton"]
    key = lambda m: sorted(zip(np.asarray(m.b).tolist(), np.asarray(m.i).tolist(),  # noqa: E731
                               np.round(np.asarray(m.t / ms) / DT).astype(int).tolist()))
    assert len(key(sp0)) > 20 and key(sp0) == key(sp1)
    np.testing.assert_allclose(np.asarray(vm1.v / mV), np.asarray(vm0.v / mV), atol=1e-9)


def test_second_compile_reuses_the_loaded_kernels() -> None:
    """The same network compiled again executes no new module (and so triggers no new
    Triton JIT): generated modules are loaded once per content hash."""
    def build():
        net = sc.Network(dt=DT * ms, seed=3)
        with net:
            P = sc.NeuronGroup(20, "cuba", name="P")
            sc.Connection(P, P, on_pre="ge += 1*mV", p=0.2, name="C")
        return net
    a = build().compile(backend="triton", device=TRITON_DEVICE)
    b = build().compile(backend="triton", device=TRITON_DEVICE)
    assert a._build is b._build and a.source() == b.source()


def test_variables_named_like_kernel_arguments() -> None:
    """User variables called size, seed, DT, lanes or range do not shadow the kernel's
    own arguments, modules or builtins."""
    model = sc.NeuronModel("""dv/dt = (size - v)/tau : volt (unless refractory)
        size : volt
        seed : 1
        DT : second""", threshold="v > 10*mV", reset="v = 0*mV; seed += 1",
        refractory=2 * ms, params={"tau": 10 * ms, "DT": 1 * ms})
    syn = sc.SynapseModel("lanes : 1\nrange : 1", on_pre="v_post += lanes*mV; range += 1")
    res = {}
    for backend in ("torch", "triton"):
        net = sc.Network(dt=DT * ms, seed=1)
        with net:
            G = sc.NeuronGroup(5, model, params={"size": 20 * mV}, name="G")
            H = sc.NeuronGroup(5, model, params={"size": 5 * mV}, name="H")
            sc.Connection(G, H, model=syn, params={"lanes": 3.0}, name="S")
            sp = sc.SpikeMonitor(H)
        sim = net.compile(backend=backend, device=_device(backend), dtype=torch.float64)
        sim.run(30 * ms)
        res[backend] = (sim.get("G", "seed").cpu().numpy(), sim.get("H", "v").cpu().numpy(),
                        sim.get("S", "range").cpu().numpy(), sp.num_spikes)
    assert res["torch"][0].min() >= 2 and res["torch"][3] > 5
    for a, b in zip(res["torch"], res["triton"]):
        np.testing.assert_allclose(b, a, rtol=1e-12)
