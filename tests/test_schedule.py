"""The step schedule: ``Network(schedule="brian2" | "layered")``.

``"brian2"`` (the default) runs all state updates, then all thresholds, all synaptic
pathways, all resets: a spike reaches the next layer's threshold one step later.
``"layered"`` steps one population at a time in a topological order along the
zero-delay projections (the ``schedule`` pass), so a spike crosses a feed-forward chain
within its step; delays still delay by exactly their number of steps, and connections
into a population already stepped (recurrent loops, self-connections) take effect at the
next step. Checked on the torch backend and on the triton backend (Triton's interpreter
on a machine without CUDA), against each other and against a hand-written numpy loop.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.ir import program as ir
from snncc.passes import run_passes
from snncc.passes.schedule import layered_order
from snncc.units import ms, mV

try:
    from snncc.kernels import import_triton

    import_triton()
    BACKENDS = ["torch", "triton"]
except ImportError:  # pragma: no cover - triton is in the test extra
    BACKENDS = ["torch"]

TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _device(backend: str) -> str:
    return TRITON_DEVICE if backend == "triton" else "cpu"


def _model() -> sc.NeuronModel:
    return sc.NeuronModel("dv/dt = -v/(10*ms) : volt", threshold="v > 10*mV",
                          reset="v = 0*mV")


def _chain(schedule: str | None, delay_ms: float = 0.0, reverse: bool = False):
    """generator -> A -> B -> C, each link strong enough to fire the next layer;
    ``delay_ms`` on A -> B; ``reverse``: the groups are declared C, B, A."""
    kw = {} if schedule is None else {"schedule": schedule}
    net = sc.Network(dt=1 * ms, seed=0, **kw)
    with net:
        g = sc.SpikeGeneratorGroup(1, [0], [0] * ms, name="g")
        groups = {n: sc.NeuronGroup(1, _model(), name=n) for n in
                  (("C", "B", "A") if reverse else ("A", "B", "C"))}
        A, B, C = groups["A"], groups["B"], groups["C"]
        sc.Connection(g, A, on_pre="v += 20*mV", name="gA")
        sc.Connection(A, B, on_pre="v += 20*mV", delay=delay_ms * ms, name="AB")
        sc.Connection(B, C, on_pre="v += 20*mV", name="BC")
        mons = [sc.SpikeMonitor(x) for x in (g, A, B, C)]
    return net, mons


def _times(mons: list[sc.SpikeMonitor]) -> list[list[int]]:
    return [np.round(np.asarray(m.t / ms)).astype(int).tolist() for m in mons]


# ------------------------------------------------------------------ the chain
@pytest.mark.parametrize("backend", BACKENDS)
def test_chain_answers_within_the_step_when_layered(backend: str) -> None:
    net, mons = _chain("layered")
    sim = net.compile(backend=backend, device=_device(backend))
    sim.run(10 * ms)
    assert _times(mons) == [[0], [0], [0], [0]]
    assert sim.program.schedule == "layered"
    assert sim.program.order == ("g", "A", "B", "C")
    assert "schedule: layered" in sim.describe() and "g -> A -> B -> C" in sim.describe()
    src = sim.source()
    assert "# schedule: layered" in src and "g -> A -> B -> C" in src
    assert "1/4: g" in src and "4/4: C (after its input B)" in src


@pytest.mark.parametrize("backend", BACKENDS)
def test_brian2_is_the_default_and_unchanged(backend: str) -> None:
    for schedule in (None, "brian2"):
        net, mons = _chain(schedule)
        assert net.schedule == "brian2"
        sim = net.compile(backend=backend, device=_device(backend))
        sim.run(10 * ms)
        assert _times(mons) == [[0], [1], [2], [3]]
        assert sim.program.schedule == "brian2" and sim.program.order == ()
        assert "schedule" not in sim.program.passes
        assert "schedule: brian2" in sim.describe()
        assert "# schedule: brian2" in sim.source()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reverse", [False, True], ids=["declared-in-order", "reversed"])
def test_a_delay_of_d_steps_is_d_steps(backend: str, reverse: bool) -> None:
    """A -> B delayed by 3 steps: B (and C, without delay after it) spike 3 steps after
    A, whatever the declaration order (delayed edges order the populations too)."""
    net, mons = _chain("layered", delay_ms=3.0, reverse=reverse)
    sim = net.compile(backend=backend, device=_device(backend))
    sim.run(10 * ms)
    assert _times(mons) == [[0], [0], [3], [3]]
    assert sim.program.late == ()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_loop_closes_at_the_next_step(backend: str) -> None:
    """g -> A -> B -> A without delay: B answers A within the step, B -> A (into a
    population already stepped) at the next step, so the loop beats once per step."""
    net = sc.Network(dt=1 * ms, seed=0, schedule="layered")
    with net:
        g = sc.SpikeGeneratorGroup(1, [0], [0] * ms, name="g")
        A = sc.NeuronGroup(1, _model(), name="A")
        B = sc.NeuronGroup(1, _model(), name="B")
        sc.Connection(g, A, on_pre="v += 20*mV")
        sc.Connection(A, B, on_pre="v += 20*mV")
        sc.Connection(B, A, on_pre="v += 20*mV", name="BA")
        mons = [sc.SpikeMonitor(x) for x in (A, B)]
    sim = net.compile(backend=backend, device=_device(backend))
    sim.run(5 * ms)
    assert _times(mons) == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]
    assert sim.program.late == ("BA",)
    assert "one step later than their delay: BA" in sim.source().replace("\n# ", " ")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("schedule", ["brian2", "layered"])
def test_a_self_connection_lands_after_the_reset_when_layered(backend: str,
                                                             schedule: str) -> None:
    """A neuron started above threshold fires at step 0 and excites itself by 5 mV.
    Under Brian2's schedule the delivery precedes the reset, which wipes it; under the
    layered schedule a self-projection delivers after the reset (like every other
    recurrent projection), so the neuron starts step 1 at 5 mV."""
    net = sc.Network(dt=1 * ms, seed=0, schedule=schedule)
    with net:
        A = sc.NeuronGroup(1, sc.NeuronModel("dv/dt = 0*volt/second : volt",
                                             threshold="v > 10*mV", reset="v = 0*mV"),
                           init={"v": 11 * mV}, name="A")
        sc.Connection(A, A, on_pre="v += 5*mV", name="AA")
        mon = sc.StateMonitor(A, "v")
    sim = net.compile(backend=backend, device=_device(backend))
    sim.run(2 * ms)
    v = np.asarray(mon.v / mV).reshape(-1)
    assert v[0] == pytest.approx(11.0)
    assert v[1] == pytest.approx(5.0 if schedule == "layered" else 0.0, abs=1e-5)


# ------------------------------------------------------------------ the pass
def test_order_is_topological_and_breaks_cycles_deterministically() -> None:
    net = sc.Network(seed=0, schedule="layered")
    with net:
        # declared out of order; X <-> Y is a zero-delay cycle, Z -> Z a self-connection
        Z = sc.NeuronGroup(2, _model(), name="Z")
        Y = sc.NeuronGroup(2, _model(), name="Y")
        X = sc.NeuronGroup(2, _model(), name="X")
        inp = sc.SpikeGeneratorGroup(2, [0], [0] * ms, name="inp")
        sc.Connection(inp, X, on_pre="v += 1*mV", name="inX")
        sc.Connection(X, Y, on_pre="v += 1*mV", name="XY")
        sc.Connection(Y, X, on_pre="v += 1*mV", name="YX")
        sc.Connection(Y, Z, on_pre="v += 1*mV", name="YZ")
        sc.Connection(Z, Z, on_pre="v += 1*mV", name="ZZ")
    prog = run_passes(net.lower())
    assert prog.order == ("inp", "X", "Y", "Z")
    assert prog.late == ("YX", "ZZ")
    assert prog.passes[-2:] == ["schedule", "plan"]
    text = prog.describe()
    assert "order inp -> X -> Y -> Z" in text and "one step later" in text and "YX, ZZ" in text
    # pure and deterministic
    assert layered_order(prog) == prog.order
    assert net.lower().order == ()


def test_zero_delay_edges_win_over_delayed_ones() -> None:
    """A -> B delayed, B -> A without delay: B steps first (A sees B's spikes in their
    step), and the delayed A -> B arrives one step late."""
    net = sc.Network(seed=0, schedule="layered")
    with net:
        A = sc.NeuronGroup(2, _model(), name="A")
        B = sc.NeuronGroup(2, _model(), name="B")
        sc.Connection(A, B, on_pre="v += 1*mV", delay=2 * ms, name="AB")
        sc.Connection(B, A, on_pre="v += 1*mV", name="BA")
    prog = run_passes(net.lower())
    assert prog.order == ("B", "A") and prog.late == ("AB",)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("bad", ["Layered", "spaic", "", None, 3])
def test_bad_schedule_names_are_refused_clearly(bad: object) -> None:
    with pytest.raises(sc.ParameterError, match=r"schedule must be one of brian2, layered"):
        sc.Network(schedule=bad)  # type: ignore[arg-type]


def test_the_ir_refuses_unknown_schedules() -> None:
    with pytest.raises(ValueError, match="unknown schedule"):
        ir.Program(dt=1e-4, populations={}, schedule="fast")


def test_config_round_trip_keeps_the_schedule() -> None:
    from snncc.io.config import load_config, network_to_config

    net, _ = _chain("layered")
    cfg = network_to_config(net)
    assert cfg["network"]["schedule"] == "layered"
    assert load_config(cfg).schedule == "layered"
    net2, _ = _chain(None)
    assert "schedule" not in network_to_config(net2)["network"]
    with pytest.raises(sc.SnnccError, match="schedule"):
        load_config({**cfg, "network": {**cfg["network"], "schedule": "fast"}})


# ------------------------------------------------------------------ reference
def _feed_forward(seed: int, steps: int):
    """generator -> L1 -> L2 -> L3 with random sparse weights and constant inputs; the
    numbers the numpy reference needs."""
    rng = np.random.default_rng(seed)
    sizes = [12, 10, 8, 6]
    fire = rng.random((steps, sizes[0])) < 0.15
    links = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        mask = rng.random((a, b)) < 0.6
        i, j = np.nonzero(mask)
        links.append((i, j, rng.uniform(1.0, 7.0, i.size)))
    inputs = [rng.uniform(2.0, 9.0, n) for n in sizes[1:]]  # mV, below threshold alone
    model = sc.NeuronModel("dv/dt = (I - v)/(10*ms) : volt\nI : volt",
                           threshold="v > 10*mV", reset="v = 0*mV")
    net = sc.Network(dt=1 * ms, seed=seed, schedule="layered")
    with net:
        src = sc.SpikeGeneratorGroup(sizes[0], np.nonzero(fire)[1], np.nonzero(fire)[0] * ms,
                                     name="src")
        layers = [sc.NeuronGroup(n, model, params={"I": cur * mV}, name=f"L{k + 1}")
                  for k, (n, cur) in enumerate(zip(sizes[1:], inputs))]
        pre = [src, *layers[:-1]]
        # declared from the last layer to the first: the order comes from the pass
        for k in reversed(range(3)):
            i, j, w = links[k]
            sc.Connection(pre[k], layers[k], on_pre="v_post += w*mV", i=i, j=j, weight=w,
                          name=f"W{k + 1}")
        spikes = [sc.SpikeMonitor(x) for x in layers]
        states = [sc.StateMonitor(x, "v", record=True) for x in layers]
    return net, spikes, states, (sizes, fire, links, inputs)


def _numpy_reference(sizes, fire, links, inputs, steps):
    """Per step, per layer in order: v = update(v + delivered input); spike; reset."""
    decay = np.exp(-1.0 / 10.0)  # dt / tau
    v = [np.zeros(n) for n in sizes[1:]]
    raster = [[] for _ in sizes[1:]]
    trace = [[] for _ in sizes[1:]]
    W = []
    for (i, j, w), a, b in zip(links, sizes[:-1], sizes[1:]):
        m = np.zeros((a, b))
        np.add.at(m, (i, j), w)
        W.append(m)
    for n in range(steps):
        for k in range(3):
            trace[k].append(v[k].copy())  # state monitors: the start of the step
        s = fire[n]
        for k in range(3):
            x = v[k] + (s.astype(np.float64) @ W[k]) * 1e-3  # delivered this step (volt)
            x = x * decay + inputs[k] * 1e-3 * (1.0 - decay)  # exact update
            s = x > 10e-3
            x[s] = 0.0
            v[k] = x
            raster[k] += [(n, int(q)) for q in np.nonzero(s)[0]]
    return raster, [np.array(t) for t in trace]


@pytest.mark.parametrize("backend", BACKENDS)
def test_feed_forward_matches_a_numpy_reference(backend: str, fresh_seed: int) -> None:
    steps = 60
    net, spikes, states, data = _feed_forward(fresh_seed, steps)
    sim = net.compile(backend=backend, device=_device(backend), dtype=torch.float64)
    assert sim.program.order == ("src", "L1", "L2", "L3")
    sim.run(steps * ms)
    raster, trace = _numpy_reference(*data, steps)
    assert sum(map(len, raster[2:])) > 0, "the last layer should spike"
    for k in range(3):
        got = sorted(zip(np.round(np.asarray(spikes[k].t / ms)).astype(int).tolist(),
                         np.asarray(spikes[k].i).tolist()))
        assert got == sorted(raster[k]), f"layer {k + 1}"
        v = np.asarray(states[k].v / mV)  # [neurons, steps]
        np.testing.assert_allclose(v.T, trace[k] * 1e3, rtol=0, atol=1e-12,
                                   err_msg=f"layer {k + 1}")


# ------------------------------------------------------------------ torch vs triton
def _recurrent(seed: int):
    """Random input -> E, E <-> I (zero delay: E steps first, I -> E arrives a step
    later), E -> E with delays; STDP-like on_pre / on_post code on input -> E."""
    def build():
        rng = np.random.default_rng(seed)
        n_in, steps = 40, 500
        flat = rng.choice(n_in * steps, size=int(n_in * steps * 0.02), replace=False)
        step, idx = np.divmod(flat, n_in)
        stdp = sc.SynapseModel(
            """w : 1
            dapre/dt = -apre/(20*ms) : 1 (event-driven)
            dapost/dt = -apost/(20*ms) : 1 (event-driven)""",
            on_pre="v_post += w*mV; apre += 0.05; w = clip(w + apost, 0, 4)",
            on_post="apost -= 0.06; w = clip(w + apre, 0, 4)")
        net = sc.Network(dt=0.1 * ms, seed=seed, schedule="layered")
        with net:
            inp = sc.SpikeGeneratorGroup(n_in, idx, step * 0.1 * ms, name="inp")
            E = sc.NeuronGroup(24, "lif", params={"I": 14 * mV}, name="E",
                               init={"v": "El + rand()*(Vt - El)"})
            Inh = sc.NeuronGroup(8, "lif", params={"I": 10 * mV}, name="I")
            S = sc.Connection(inp, E, model=stdp, p=0.4, weight="1 + 2*rand()", name="S",
                              delay="floor(3*rand())*0.1*ms")
            sc.Connection(E, E, on_pre="v_post += 0.7*mV", p=0.15, name="EE",
                          delay="floor(3*rand())*0.1*ms")
            sc.Connection(E, Inh, on_pre="v_post += 3*mV", p=0.5, name="EI")
            sc.Connection(Inh, E, on_pre="v_post -= 1.5*mV", p=0.5, name="IE")
            mons = (sc.SpikeMonitor(E), sc.SpikeMonitor(Inh),
                    sc.StateMonitor(E, "v", record=[0, 5, 11]))
        return net, mons, S
    return build


def _batched_spikes(mon: sc.SpikeMonitor) -> list[tuple[int, int, int]]:
    steps = np.round(np.asarray(mon.t / ms) / 0.1).astype(int)
    return sorted(zip(np.asarray(mon.b).tolist(), steps.tolist(), np.asarray(mon.i).tolist()))


@pytest.mark.skipif("triton" not in BACKENDS, reason="needs triton")
def test_recurrent_network_torch_and_triton_agree(fresh_seed: int) -> None:
    build = _recurrent(fresh_seed)
    out = {}
    for backend in ("torch", "triton"):
        net, mons, S = build()
        sim = net.compile(backend=backend, device=_device(backend), dtype=torch.float64,
                          batch=2)
        assert sim.program.order == ("inp", "E", "I")
        assert set(sim.program.late) == {"EE", "IE"}
        # the two copies differ: the second starts closer to the threshold
        sim.get("E", "v")[1] += 3e-3
        sim.run(50 * ms)
        out[backend] = (sim, mons, S)
    (s0, m0, S0), (s1, m1, S1) = out["torch"], out["triton"]
    for k in range(2):
        a, b = _batched_spikes(m0[k]), _batched_spikes(m1[k])
        assert a == b, f"seed {fresh_seed}, monitor {k}"
    spikes_e = _batched_spikes(m0[0])
    assert len(_batched_spikes(m0[1])) > 5 and len(spikes_e) > 20
    assert {b for b, _, _ in spikes_e} == {0, 1}
    assert [x[1:] for x in spikes_e if x[0] == 0] != [x[1:] for x in spikes_e if x[0] == 1]
    np.testing.assert_allclose(np.asarray(m1[2].v / mV), np.asarray(m0[2].v / mV), rtol=0,
                               atol=1e-9)
    w0 = s0.get(S0.name, "w").cpu().numpy()
    w1 = s1.get(S1.name, "w").cpu().numpy()
    assert not np.allclose(w0, w0.mean()), "the weights should have changed"
    np.testing.assert_allclose(w1, w0, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif("triton" not in BACKENDS, reason="needs triton")
def test_clock_driven_synapses_under_layered_agree(fresh_seed: int) -> None:
    """A clock-driven synaptic equation reading v_post (and v_pre of a layer stepped
    before) runs right after its post population's update, before its reset, on both
    backends; the second layer's state monitor records the start of the step although
    synapses change it before its kernel (triton: a recording kernel of its own)."""
    weights = np.random.default_rng(fresh_seed + 1).uniform(0.1, 0.6, 15)
    out = {}
    for backend in ("torch", "triton"):
        rng = np.random.default_rng(fresh_seed)
        flat = np.nonzero(rng.random((150, 5)) < 0.08)
        net = sc.Network(dt=0.1 * ms, seed=fresh_seed, schedule="layered")
        with net:
            src = sc.SpikeGeneratorGroup(5, flat[1], flat[0] * 0.1 * ms, name="src")
            lif = sc.NeuronModel("dv/dt = (ge - v)/tau : 1\ndge/dt = -ge/tau_e : 1",
                                 threshold="v > 1", reset="v = 0",
                                 params={"tau": 10 * ms, "tau_e": 2 * ms})
            P = sc.NeuronGroup(3, lif, name="P")
            Q = sc.NeuronGroup(2, lif, name="Q")
            model = sc.SynapseModel("""
                dz/dt = (v_post + 0.5*v_pre - z)/tau : 1 (clock-driven)
                w : 1
                """, on_pre="ge += 4*w + 0.5*z", params={"tau": 3 * ms})
            sc.Connection(src, P, on_pre="ge += 3", p=0.6, name="SP")
            syn = sc.Connection(P, Q, model, weight=weights[:6], name="PQ")
            mons = (sc.SpikeMonitor(P), sc.SpikeMonitor(Q), sc.StateMonitor(P, "v"))
        sim = net.compile(backend=backend, dtype=torch.float64, batch=2,
                          device=_device(backend))
        sim.get("P", "v")[1] += torch.as_tensor([0.3, 0.5, 0.7], dtype=torch.float64)
        sim.run(150 * 0.1 * ms)
        out[backend] = (sim.get(syn.name, "z").cpu().numpy(), sim.get("Q", "v").cpu().numpy(),
                        [_batched_spikes(m) for m in mons[:2]], np.asarray(mons[2].v))
        if backend == "triton":
            assert "def P_record(" in sim.source()
    assert out["torch"][2][0] and out["torch"][2][1], "both layers should spike"
    assert out["torch"][2] == out["triton"][2], f"seed {fresh_seed}"
    for k in (0, 1, 3):
        np.testing.assert_allclose(out["triton"][k], out["torch"][k], rtol=0, atol=1e-10)
