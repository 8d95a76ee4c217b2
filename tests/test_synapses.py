"""Synaptic event code: event-driven trace equations (pair-based STDP) against an eager
reference, on fresh random spike trains."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.units import ms, mV

STDP = dict(taupre=20.0, taupost=30.0, Apre=0.01, Apost=-0.012, wmax=1.0)


def _reference(pre_steps, post_steps, dt, w0):
    """Eager pair-based STDP with all-to-all traces: traces decay exactly between events;
    within a step on_pre runs before on_post (Brian2's pathway order)."""
    events = sorted([(s, 0) for s in pre_steps] + [(s, 1) for s in post_steps])
    w, apre, apost, last = w0, 0.0, 0.0, 0
    for step, kind in events:
        el = (step - last) * dt
        apre *= math.exp(-el / STDP["taupre"])
        apost *= math.exp(-el / STDP["taupost"])
        last = step
        if kind == 0:
            apre += STDP["Apre"]
            w = min(max(w + apost, 0.0), STDP["wmax"])
        else:
            apost += STDP["Apost"]
            w = min(max(w + apre, 0.0), STDP["wmax"])
    return w, apre, apost


@pytest.mark.parametrize("trial", range(3))
def test_stdp_matches_eager_reference(trial: int) -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    dt = 0.1
    n_steps = 3000
    pre = np.sort(rng.choice(n_steps, size=40, replace=False))
    post = np.sort(rng.choice(n_steps, size=40, replace=False))
    w0 = float(rng.uniform(0.2, 0.8))
    model = sc.SynapseModel(
        """
        w : 1
        dapre/dt = -apre/taupre : 1 (event-driven)
        dapost/dt = -apost/taupost : 1 (event-driven)
        """,
        on_pre="apre += Apre; w = clip(w + apost, 0, wmax)",
        on_post="apost += Apost; w = clip(w + apre, 0, wmax)",
        params={"taupre": STDP["taupre"] * ms, "taupost": STDP["taupost"] * ms,
                "Apre": STDP["Apre"], "Apost": STDP["Apost"], "wmax": STDP["wmax"]})
    net = sc.Network(dt=dt * ms, seed=seed % 2**31)
    with net:
        a = sc.SpikeGeneratorGroup(1, np.zeros(pre.size, int), pre * dt * ms)
        b = sc.SpikeGeneratorGroup(1, np.zeros(post.size, int), post * dt * ms)
        syn = sc.Connection(a, b, model, connect="full", weight=w0)
    sim = net.compile(dtype=torch.float64)
    sim.run(n_steps * dt)
    w_ref, apre_ref, apost_ref = _reference(pre, post, dt, w0)
    assert sim.get(syn.name, "w").item() == pytest.approx(w_ref, abs=1e-12), f"seed {seed}"
    # the traces are stored as of the last event
    assert sim.get(syn.name, "apre").item() == pytest.approx(apre_ref, abs=1e-12)
    assert sim.get(syn.name, "apost").item() == pytest.approx(apost_ref, abs=1e-12)


def test_event_driven_is_reported_and_in_source() -> None:
    model = sc.SynapseModel("w : 1\ndx/dt = -x/(10*ms) : 1 (event-driven)",
                            on_pre="x += 1; w += x")
    net = sc.Network(seed=0)
    with net:
        a = sc.SpikeGeneratorGroup(2, [0, 1], [1.0, 2.0])
        b = sc.SpikeGeneratorGroup(2, [0], [5.0])
        s = sc.Connection(a, b, model, connect="one_to_one")
    sim = net.compile()
    assert "event-driven (exact): x" in sim.describe()
    assert "dx/dt = -x/(10*ms) : 1 (event-driven)" in sim.source()
    sim.run(3.0)
    # one spike each, x jumps to 1 at the first event: w = 1
    assert torch.allclose(sim.get(s.name, "w"), torch.ones(1, 2))


# ------------------------------------------------------- clock-driven synaptic equations
TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _generator(n: int, rng: np.random.Generator, steps: int, p: float
               ) -> sc.SpikeGeneratorGroup:
    flat = np.nonzero(rng.random((steps, n)) < p)
    return sc.SpikeGeneratorGroup(n, flat[1], flat[0] * 0.1 * ms)


@pytest.mark.parametrize("method", [None, "euler"])
def test_clock_driven_decay_matches_closed_form(method: str | None, fresh_seed: int) -> None:
    """A linear clock-driven system per synapse (x decays, y follows x) against its closed
    form (the automatic choice, exact) and against Euler's recursion when forced."""
    rng = np.random.default_rng(fresh_seed)
    tau, tau2 = float(rng.uniform(2, 10)), float(rng.uniform(12, 30))  # ms
    model = sc.SynapseModel("""
        dx/dt = -x/tau : 1 (clock-driven)
        dy/dt = (x - y)/tau2 : 1 (clock-driven)
        """, params={"tau": tau * ms, "tau2": tau2 * ms}, method=method)
    x0, y0 = rng.uniform(-1, 1, 12), rng.uniform(-1, 1, 12)
    net = sc.Network(dt=0.1 * ms, seed=fresh_seed)
    with net:
        a = _generator(3, rng, 10, 0.0)
        b = _generator(4, rng, 10, 0.0)
        s = sc.Connection(a, b, model, init={"x": x0, "y": y0})
    sim = net.compile(dtype=torch.float64)
    assert f"clock-driven ({method or 'exact'}): x; y" in sim.describe()
    steps = 500
    sim.run(steps * 0.1 * ms)
    x, y = (sim.get(s.name, v)[0].numpy() for v in ("x", "y"))
    if method is None:
        t = steps * 0.1
        xw = x0 * math.exp(-t / tau)
        yw = y0 * math.exp(-t / tau2) + x0 * tau / (tau - tau2) * (math.exp(-t / tau)
                                                                   - math.exp(-t / tau2))
    else:
        xw, yw = x0.copy(), y0.copy()
        for _ in range(steps):
            xw, yw = xw - 0.1 * xw / tau, yw + 0.1 * (xw - yw) / tau2
    np.testing.assert_allclose(x, xw, rtol=0, atol=1e-12, err_msg=f"seed {fresh_seed}")
    np.testing.assert_allclose(y, yw, rtol=0, atol=1e-12, err_msg=f"seed {fresh_seed}")


def test_clock_driven_reads_pre_and_post_after_their_update(fresh_seed: int) -> None:
    """``dz/dt`` reads ``v`` (bare: the postsynaptic neuron's), ``u_pre`` and a per-synapse
    parameter through a synaptic subexpression; the neurons' values are those of the same
    step after their state update (Brian2's "groups" slot, neurons first)."""
    rng = np.random.default_rng(fresh_seed)
    n_pre, n_post = 3, 4
    ku, kv = rng.uniform(-1, 1, n_pre), rng.uniform(-1, 1, n_post)
    u0, v0 = rng.uniform(-1, 1, n_pre), rng.uniform(-1, 1, n_post)
    model = sc.SynapseModel("""
        s : 1
        drive = s*(v - u_pre)/tau : Hz
        dz/dt = drive : 1 (clock-driven)
        """, params={"tau": 5 * ms})
    ii, jj = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    order = rng.permutation(n_pre * n_post)
    i, j = ii.reshape(-1)[order], jj.reshape(-1)[order]
    s_val = rng.uniform(0.5, 2, i.size)
    net = sc.Network(dt=0.1 * ms, seed=fresh_seed)
    with net:
        pre = sc.NeuronGroup(n_pre, sc.NeuronModel("du/dt = k/tau0 : 1\nk : 1",
                                                   params={"tau0": 1 * ms}),
                             params={"k": ku}, init={"u": u0})
        post = sc.NeuronGroup(n_post, sc.NeuronModel("dv/dt = k/tau0 : 1\nk : 1",
                                                     params={"tau0": 1 * ms}),
                              params={"k": kv}, init={"v": v0})
        syn = sc.Connection(pre, post, model, i=i, j=j, init={"s": s_val})
    sim = net.compile(dtype=torch.float64)
    steps = 300
    sim.run(steps * 0.1 * ms)
    # u_i after the update of step n: u0 + ku*(n+1)*dt/tau0, likewise v_j
    n1 = steps * (steps + 1) / 2  # sum of (n+1) over the steps
    dv = (v0[j] - u0[i]) * steps + (kv[j] - ku[i]) * 0.1 * n1
    want = s_val * 0.1 / 5 * dv
    np.testing.assert_allclose(sim.get(syn.name, "z")[0].numpy(), want, rtol=1e-12,
                               atol=1e-12, err_msg=f"seed {fresh_seed}")


def test_clock_driven_synapses_torch_and_triton_agree(fresh_seed: int) -> None:
    """Spiking neurons with a reset that the synapses observe: the clock-driven equation
    reads v_post after the neurons' update and before their reset, on both backends; the
    event code reads the clock-driven variable. Batch of 2."""
    pytest.importorskip("triton")
    weights = np.random.default_rng(fresh_seed + 1).uniform(0.1, 0.6, 15)
    out = {}
    for backend in ("torch", "triton"):
        brng = np.random.default_rng(fresh_seed)
        net = sc.Network(dt=0.1 * ms, seed=fresh_seed)
        with net:
            src = _generator(5, brng, 150, 0.08)
            lif = sc.NeuronModel("dv/dt = (ge - v)/tau : 1\ndge/dt = -ge/tau_e : 1",
                                 threshold="v > 1", reset="v = 0",
                                 params={"tau": 10 * ms, "tau_e": 2 * ms})
            post = sc.NeuronGroup(3, lif, name="P")
            # only the clock-driven equation observes v (the event code writes ge)
            model = sc.SynapseModel("""
                dz/dt = (v_post + 0.1*i - 0.2*j - z)/tau : 1 (clock-driven)
                w : 1
                """, on_pre="ge += 4*w + 0.5*z", params={"tau": 3 * ms})
            syn = sc.Connection(src, post, model, weight=weights, name="S")
            mon = sc.SpikeMonitor(post)
        sim = net.compile(backend=backend, dtype=torch.float64, batch=2,
                          device=TRITON_DEVICE if backend == "triton" else "cpu")
        # the batch entries differ: the second starts closer to the threshold
        sim.get("P", "v")[1] += torch.as_tensor([0.3, 0.5, 0.7], dtype=torch.float64)
        sim.get(syn.name, "z")[1] += 0.5
        sim.run(150 * 0.1 * ms)
        out[backend] = (sim.get(syn.name, "z").cpu().numpy(), sim.get("P", "v").cpu().numpy(),
                        sorted(zip(np.asarray(mon.t / ms).round(6).tolist(),
                                   np.asarray(mon.i).tolist(), np.asarray(mon.b).tolist())))
        if backend == "triton":
            assert "S_synapses" in sim.describe()
            assert "dz/dt = (v_post + 0.1*i - 0.2*j - z)/tau : 1 (clock-driven)" in sim.source()
    assert out["torch"][2], "no postsynaptic spikes: the test would not see the reset"
    assert out["torch"][2] == out["triton"][2], f"seed {fresh_seed}"
    np.testing.assert_allclose(out["triton"][0], out["torch"][0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(out["triton"][1], out["torch"][1], rtol=0, atol=1e-10)


def test_clock_driven_is_reported_and_in_source() -> None:
    model = sc.SynapseModel("""
        w : 1
        dc/dt = -c/(100*ms) : 1 (clock-driven)
        da/dt = -a/(10*ms) : 1 (event-driven)
        """, on_pre="a += 1; c += a")
    net = sc.Network(seed=0)
    with net:
        a = sc.SpikeGeneratorGroup(2, [0, 1], [1.0, 2.0])
        b = sc.SpikeGeneratorGroup(2, [0], [5.0])
        s = sc.Connection(a, b, model, connect="one_to_one")
    sim = net.compile()
    text = sim.describe()
    assert "event-driven (exact): a" in text and "clock-driven (exact): c" in text
    src = sim.source()
    assert "clock-driven, method exact" in src
    assert "dc/dt = -c/(100*ms) : 1 (clock-driven)" in src
    sim2 = net.compile(method="euler")
    assert "clock-driven (euler): c" in sim2.describe()
    sim.run(3.0)
    # c jumped to 1 at the spike (t = 1 ms, 2 ms), then decayed (exactly) until 3 ms
    want = np.exp(-np.array([1.9, 0.9]) / 100)
    np.testing.assert_allclose(sim.get(s.name, "c")[0].numpy(), want, rtol=1e-6)


def test_synaptic_variable_shadows_the_neurons_and_never_writes_them() -> None:
    """A synaptic ``dv/dt`` defines the synapse's own ``v`` (bare names are synaptic
    first): the postsynaptic v is untouched; ``v_post`` still names the neuron's."""
    model = sc.SynapseModel("""
        dv/dt = 1/tau : 1 (clock-driven)
        dm/dt = (v + v_post)/tau : 1 (clock-driven)
        """, params={"tau": 1 * ms})
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        a = sc.SpikeGeneratorGroup(1, [0], [1.0])
        b = sc.NeuronGroup(2, sc.NeuronModel("v : 1"), init={"v": 2.0}, name="B")
        s = sc.Connection(a, b, model)
        sc.StateMonitor(b, "v")  # keep B.v a state (not folded)
    sim = net.compile(dtype=torch.float64)
    sim.run(1 * ms)
    np.testing.assert_allclose(sim.get("B", "v").numpy(), [[2.0, 2.0]])
    np.testing.assert_allclose(sim.get(s.name, "v").numpy(), [[1.0, 1.0]])
    # exact: v = t/tau, m = (t**2/(2*tau) + 2*t)/tau
    np.testing.assert_allclose(sim.get(s.name, "m").numpy(), [[2.5, 2.5]])


def _compile_synapse(equations: str, **kw: object) -> None:
    net = sc.Network(dt=0.1 * ms, seed=0)
    with net:
        a = sc.SpikeGeneratorGroup(1, [0], [1.0])
        b = sc.NeuronGroup(1, sc.NeuronModel("dv/dt = -v/tau : 1", params={"tau": 10 * ms}))
        sc.Connection(a, b, sc.SynapseModel(equations, **kw))
    net.compile()


@pytest.mark.parametrize("equations, kw, error, match", [
    ("dx/dt = x : 1 (clock-driven)", {}, sc.UnitError,
     "right-hand side of dx/dt has dimension 1, expected hertz"),
    ("dx/dt = -x/(5*ms) + foo : 1 (clock-driven)", {}, sc.UnknownNameError, "unknown name 'foo'"),
    ("dv_post/dt = -v_post/(5*ms) : 1 (clock-driven)", {}, sc.ModelError,
     "names ending in _post refer to the postsynaptic neurons"),
    ("x_pre : 1", {}, sc.ModelError, "names ending in _pre refer to the presynaptic"),
    ("dx/dt = (v_post - x)/(5*ms) : 1 (event-driven)", {}, sc.ModelError,
     r"event-driven equation for 'x' \(line 1\) reads 'v_post'.*mark the equation "
     r"\(clock-driven\)"),
    ("dx/dt = -x/(5*ms) : 1 (event-driven)\ndc/dt = x/(5*ms) : 1 (clock-driven)", {},
     sc.ModelError, "clock-driven equation for 'c' .* 'x', which is event-driven"),
    ("dx/dt = -x**2/(5*ms) : 1 (clock-driven)", {"method": "exact"}, sc.IntegrationError,
     r"connection '.*' \(clock-driven\): method 'exact' cannot integrate"),
    ("dx/dt = -x/(5*ms) : 1", {}, sc.ModelError, "needs a flag"),
])
def test_clock_driven_errors(equations: str, kw: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        _compile_synapse(equations, **kw)


def _assert_same_spikes(mon: sc.SpikeMonitor, b_mon: object, seed: int) -> None:
    """snncc's and Brian2's spike monitors hold the same (step, neuron) pairs (dt 0.1 ms)."""
    import brian2 as b2

    ours = sorted(zip(np.round(np.asarray(mon.t / ms) / 0.1).astype(int).tolist(),
                      np.asarray(mon.i).tolist()))
    ref = sorted(zip(np.round(np.asarray(b_mon.t / b2.ms) / 0.1).astype(int).tolist(),
                     np.asarray(b_mon.i).tolist()))
    assert len(ref) > 5, "too few spikes to compare"
    assert ours == ref, f"seed {seed}"


@pytest.mark.brian2
def test_clock_driven_synapses_match_brian2(fresh_seed: int) -> None:
    """The schedule against Brian2 (numpy target, default object names, so the neurons'
    state update runs before the synapses' in the "groups" slot): a clock-driven synaptic
    variable following v_post of spiking, resetting neurons, read by the event code."""
    import brian2 as b2
    from brian2_util import setup_brian2

    rng = np.random.default_rng(fresh_seed)
    steps, n_in, n_out = 400, 5, 3
    flat = np.nonzero(rng.random((steps, n_in)) < 0.05)
    idx, spike_steps = flat[1], flat[0]
    w = rng.uniform(0.2, 0.8, n_in * n_out)
    eqs = "dv/dt = (ge - v)/tau : 1\ndge/dt = -ge/tau_e : 1"
    syn_eqs = "w : 1\ndz/dt = (v_post - z)/tau_z : 1 (clock-driven)"
    values = {"tau": 10.0, "tau_e": 2.0, "tau_z": 3.0}  # ms
    net = sc.Network(dt=0.1 * ms, seed=fresh_seed)
    with net:
        src = sc.SpikeGeneratorGroup(n_in, idx, spike_steps * 0.1 * ms)
        post = sc.NeuronGroup(n_out, sc.NeuronModel(eqs, threshold="v > 1", reset="v = 0"),
                              params={k: values[k] * ms for k in ("tau", "tau_e")}, name="P")
        syn = sc.Connection(src, post, sc.SynapseModel(syn_eqs, on_pre="ge += w + 0.5*z"),
                            weight=w, params={"tau_z": values["tau_z"] * ms})
        mon = sc.SpikeMonitor(post)
    sim = net.compile(dtype=torch.float64)
    sim.run(steps * 0.1 * ms)
    proj = sim.program.projections[syn.name]

    setup_brian2(1e-4)
    b_src = b2.SpikeGeneratorGroup(n_in, idx, spike_steps * 0.1 * b2.ms)
    b_post = b2.NeuronGroup(n_out, eqs, threshold="v > 1", reset="v = 0", method="exact")
    b_syn = b2.Synapses(b_src, b_post, syn_eqs, on_pre="ge_post += w + 0.5*z",
                        method="exact")
    b_syn.connect(i=np.asarray(proj.i), j=np.asarray(proj.j))
    b_syn.w = w
    b_mon = b2.SpikeMonitor(b_post)
    b2.Network(b_src, b_post, b_syn, b_mon).run(
        steps * 0.1 * b2.ms, namespace={k: v * b2.ms for k, v in values.items()})

    _assert_same_spikes(mon, b_mon, fresh_seed)
    np.testing.assert_allclose(sim.get(syn.name, "z")[0].numpy(), np.asarray(b_syn.z),
                               rtol=0, atol=1e-12, err_msg=f"seed {fresh_seed}")


@pytest.mark.brian2
@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_distributed_delays_match_brian2(fresh_seed: int, backend: str) -> None:
    """Per-synapse delays of many distinct values (a queued pathway: one table by
    (source, delay), code that does not grow with the number of delays) against Brian2's
    spike queue: an input pathway whose on_pre reads the target's state at arrival time,
    and a recurrent pathway with its own delays. Spikes identical, final state to 1e-12."""
    import brian2 as b2
    from brian2_util import setup_brian2

    if backend == "triton":
        pytest.importorskip("triton")
    rng = np.random.default_rng(fresh_seed)
    steps, n_in, n_out = (300 if backend == "torch" else 100), 8, 6  # the interpreter is slow
    flat = np.nonzero(rng.random((steps, n_in)) < 0.1)
    idx, spike_steps = flat[1], flat[0]
    i_in, j_in = np.nonzero(rng.random((n_in, n_out)) < 0.7)
    d_in = rng.integers(0, 30, i_in.size)  # steps
    w_in = rng.uniform(0.3, 0.9, i_in.size)
    i_rec, j_rec = np.nonzero(rng.random((n_out, n_out)) < 0.5)
    d_rec = rng.integers(1, 20, i_rec.size)
    eqs = "dv/dt = (ge - v)/tau : 1\ndge/dt = -ge/tau_e : 1"
    on_in, on_rec = "ge += w*(1.2 - v_post)", "ge += 0.15"
    values = {"tau": 10.0, "tau_e": 2.0}  # ms
    net = sc.Network(dt=0.1 * ms, seed=fresh_seed)
    with net:
        src = sc.SpikeGeneratorGroup(n_in, idx, spike_steps * 0.1 * ms)
        post = sc.NeuronGroup(n_out, sc.NeuronModel(eqs, threshold="v > 1", reset="v = 0"),
                              params={k: v * ms for k, v in values.items()}, name="P")
        inp = sc.Connection(src, post, sc.SynapseModel("w : 1", on_pre=on_in), i=i_in,
                            j=j_in, weight=w_in, delay=d_in * 0.1 * ms, name="inp")
        sc.Connection(post, post, on_pre=on_rec, i=i_rec, j=j_rec,
                      delay=d_rec * 0.1 * ms, name="rec")
        mon = sc.SpikeMonitor(post)
    sim = net.compile(backend=backend, dtype=torch.float64)
    stages = [s for s in sim.program.plan.stages if type(s).__name__ == "Pathway"]
    assert [s.delivery for s in stages] == ["queue", "ring"]
    sim.run(steps * 0.1 * ms)

    setup_brian2(1e-4)
    b_src = b2.SpikeGeneratorGroup(n_in, idx, spike_steps * 0.1 * b2.ms)
    b_post = b2.NeuronGroup(n_out, eqs, threshold="v > 1", reset="v = 0", method="exact")
    b_in = b2.Synapses(b_src, b_post, "w : 1", on_pre=on_in.replace("ge", "ge_post", 1))
    b_in.connect(i=i_in, j=j_in)
    b_in.w = w_in
    b_in.delay = d_in * 0.1 * b2.ms
    b_rec = b2.Synapses(b_post, b_post, on_pre=on_rec.replace("ge", "ge_post", 1))
    b_rec.connect(i=i_rec, j=j_rec)
    b_rec.delay = d_rec * 0.1 * b2.ms
    b_mon = b2.SpikeMonitor(b_post)
    b2.Network(b_src, b_post, b_in, b_rec, b_mon).run(
        steps * 0.1 * b2.ms, namespace={k: v * b2.ms for k, v in values.items()})

    _assert_same_spikes(mon, b_mon, fresh_seed)
    np.testing.assert_allclose(sim.get(post.name, "ge")[0].numpy(), np.asarray(b_post.ge),
                               rtol=0, atol=1e-12, err_msg=f"seed {fresh_seed}")
    assert inp.name in sim.program.projections


@pytest.mark.parametrize("on_pre,delivery", [("v += 0.5*mV", "ring"),
                                             ("v += 0.5*mV*(1 + 0*v_post)", "ring"),
                                             ("v += (v_post - El_post)*0.01", "queue")])
def test_generated_code_does_not_grow_with_the_number_of_delays(on_pre: str,
                                                                delivery: str) -> None:
    """Delays are data: the torch source of a pathway with 3 or 60 distinct delays has
    the same length; the plan delivers through a ring where the event code only adds
    values fixed per synapse, through a queue otherwise."""
    sources = []
    for spread in (0.2, 6.0):  # ms: 3 and ~60 distinct delays of 0.1 ms
        net = sc.Network(dt=0.1 * ms, seed=4)
        with net:
            G = sc.NeuronGroup(40, "lif", params={"I": 30 * mV}, name="G")
            sc.Connection(G, G, on_pre=on_pre, p=0.5, delay=f"rand()*{spread}*ms",
                          name="GG")
        sim = net.compile(backend="torch")
        (stage,) = [s for s in sim.program.plan.stages if type(s).__name__ == "Pathway"]
        assert stage.delivery == delivery and len(stage.delays) >= 3
        sources.append(sim.source())
    lines = [len(src.splitlines()) for src in sources]
    assert lines[0] == lines[1], lines


def test_long_delays_on_few_synapses_are_queued_not_ringed() -> None:
    """A ring holds max delay + 1 values per target: for delays up to 1 s onto 200
    neurons through ~80 synapses (10,001 x 200 values) the plan queues the spikes
    instead; with delays up to 10 ms it rings them."""
    def delivery(top_ms: float) -> str:
        net = sc.Network(dt=0.1 * ms, seed=9)
        with net:
            G = sc.NeuronGroup(200, "lif", params={"I": 30 * mV}, name="G")
            sc.Connection(G, G, on_pre="v += 2*mV", p=0.002,
                          delay=f"({top_ms} - rand()*3)*ms", name="GG")
        sim = net.compile(backend="torch")
        sim.run(1 * ms)
        (stage,) = [s for s in sim.program.plan.stages if type(s).__name__ == "Pathway"]
        return stage.delivery

    assert delivery(1000.0) == "queue"
    assert delivery(10.0) == "ring"
