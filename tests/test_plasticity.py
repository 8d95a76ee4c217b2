"""The plasticity presets (snncc.learning.plasticity) against independent eager references.

Each test draws fresh random spike trains (seed from os.urandom through the ``fresh_seed``
fixture: printed, and ``SNNCC_TEST_SEED=<seed>`` reruns it) for 3 presynaptic and 4
postsynaptic spike generators, connected all-to-all through explicit synapse lists in a
shuffled order (so a mix-up of synapse, pre or post indices shows), runs the preset's
generated code and compares every synapse's weight (and traces) with a plain-Python
simulation of the published rule: traces decay exactly between a synapse's events, within
one step on_pre runs before on_post (Brian2's order), clock-driven equations step after
the neurons' state update and before the step's events.

The torch backend runs in float64 (agreement to rounding, 1e-12); the triton backend runs
in float64 too (compiled on a GPU, Triton's interpreter on a CPU, which is slow: its runs
are a few hundred steps), where only the order of floating-point operations differs
(exp implementations, fused multiply-adds): 1e-10.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.learning import plasticity, reward_stdp, stdp, triplet_stdp
from snncc.units import ms

DT = 0.1  # ms
N_PRE, N_POST = 3, 4
TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _triton_ok() -> bool:
    try:
        from snncc.kernels import import_triton

        import_triton()
    except ImportError:  # pragma: no cover - triton is in the test extra
        return False
    return True


BACKENDS = ["torch", pytest.param("triton", marks=pytest.mark.skipif(
    not _triton_ok(), reason="triton is not installed"))]


# ------------------------------------------------------------------------ inputs
def _trains(rng: np.random.Generator, n: int, steps: int, p: float) -> list[np.ndarray]:
    """Spike steps of ``n`` neurons, each spiking with probability ``p`` per step."""
    return [np.nonzero(rng.random(steps) < p)[0] for _ in range(n)]


def _generator(trains: list[np.ndarray], name: str) -> sc.SpikeGeneratorGroup:
    idx = np.concatenate([np.full(t.size, k) for k, t in enumerate(trains)]).astype(int)
    steps = np.concatenate(trains)
    return sc.SpikeGeneratorGroup(len(trains), idx, steps * DT * ms, name=name)


def _pairs(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """All 3 x 4 pairs, in a random order."""
    ii, jj = np.meshgrid(np.arange(N_PRE), np.arange(N_POST), indexing="ij")
    order = rng.permutation(N_PRE * N_POST)
    return ii.reshape(-1)[order], jj.reshape(-1)[order]


def _events(pre: np.ndarray, post: np.ndarray) -> list[tuple[int, int]]:
    """A synapse's events (step, 0 = pre / 1 = post), on_pre first within a step."""
    return sorted([(int(s), 0) for s in pre] + [(int(s), 1) for s in post])


def _compile(net: sc.Network, backend: str) -> object:
    device = TRITON_DEVICE if backend == "triton" else "cpu"
    return net.compile(backend=backend, device=device, dtype=torch.float64)


def _tol(backend: str) -> float:
    return 1e-12 if backend == "torch" else 1e-10


def _check(sim: object, name: str, var: str, want: np.ndarray, tol: float, seed: int) -> None:
    got = sim.get(name, var)[0].double().cpu().numpy()  # type: ignore[attr-defined]
    bad = np.nonzero(~np.isclose(got, want, rtol=0, atol=tol))[0]
    assert bad.size == 0, (f"{var}: synapses {bad.tolist()} differ from the reference: got "
                           f"{got[bad].tolist()}, want {want[bad].tolist()} (seed {seed})")


def _clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def _p(steps: int) -> float:
    """A spike probability per step giving about 10 spikes a neuron over the run."""
    return 10.0 / steps


def _sensitive(w: np.ndarray, w0: np.ndarray, lo: float, hi: float, seed: int) -> None:
    """The run can tell right from wrong: weights moved, and not all onto a bound (where
    the history that led there no longer shows)."""
    assert np.any(np.abs(w - w0) > 1e-3), f"the spike trains changed no weight (seed {seed})"
    assert np.sum((w > lo + 1e-3) & (w < hi - 1e-3)) >= 3, \
        f"the weights ended on their bounds (seed {seed}): {w.tolist()}"


# --------------------------------------------------------------- pair-based STDP
def _stdp_reference(pre: np.ndarray, post: np.ndarray, w: float, pairing: str, update: str,
                    p: dict[str, float]) -> tuple[float, float, float]:
    """Pair-based STDP of one synapse, straight from the rule (Song et al. 2000; nearest
    pairing resets a trace to its amplitude; multiplicative = soft bounds)."""
    apre = apost = 0.0
    last = 0
    for step, kind in _events(pre, post):
        el = (step - last) * DT
        apre *= math.exp(-el / p["taupre"])
        apost *= math.exp(-el / p["taupost"])
        last = step
        if kind == 0:
            apre = apre + p["Apre"] if pairing == "all_to_all" else p["Apre"]
            if update == "additive":
                w = _clip(w + apost, p["wmin"], p["wmax"])
            else:  # apost <= 0: depression towards wmin
                w = _clip(w + apost * (w - p["wmin"]), p["wmin"], p["wmax"])
        else:
            apost = apost + p["Apost"] if pairing == "all_to_all" else p["Apost"]
            if update == "additive":
                w = _clip(w + apre, p["wmin"], p["wmax"])
            else:
                w = _clip(w + apre * (p["wmax"] - w), p["wmin"], p["wmax"])
    return w, apre, apost


@pytest.mark.parametrize("backend, pairing, update", [
    ("torch", "all_to_all", "additive"), ("torch", "all_to_all", "multiplicative"),
    ("torch", "nearest", "additive"), ("torch", "nearest", "multiplicative"),
    pytest.param("triton", "nearest", "multiplicative", marks=BACKENDS[1].marks),
])
def test_stdp_matches_reference(backend: str, pairing: str, update: str,
                                fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    steps = 2000 if backend == "torch" else 300
    p = {"taupre": float(rng.uniform(5, 30)), "taupost": float(rng.uniform(5, 30)),
         "Apre": float(rng.uniform(0.02, 0.06)), "Apost": -float(rng.uniform(0.02, 0.06)),
         "wmin": float(rng.uniform(-0.2, 0.1)), "wmax": float(rng.uniform(0.8, 1.2))}
    pre, post = _trains(rng, N_PRE, steps, _p(steps)), _trains(rng, N_POST, steps, _p(steps))
    i, j = _pairs(rng)
    w0 = rng.uniform(0.2, 0.8, i.size)
    model = stdp(pairing=pairing, update=update, taupre=p["taupre"] * ms,
                 taupost=p["taupost"] * ms, Apre=p["Apre"], Apost=p["Apost"], wmin=p["wmin"],
                 wmax=p["wmax"], on_pre_effect=None)
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        syn = sc.Connection(_generator(pre, "pre"), _generator(post, "post"), model, i=i, j=j,
                            weight=w0)
    sim = _compile(net, backend)
    sim.run(steps * DT * ms)
    ref = np.array([_stdp_reference(pre[a], post[b], w, pairing, update, p)
                    for a, b, w in zip(i, j, w0)])
    _sensitive(ref[:, 0], w0, p["wmin"], p["wmax"], fresh_seed)
    for k, var in enumerate(("w", "apre", "apost")):  # traces as of each synapse's last event
        _check(sim, syn.name, var, ref[:, k], _tol(backend), fresh_seed)


# ------------------------------------------------------------------ triplet STDP
def _triplet_reference(pre: np.ndarray, post: np.ndarray, w: float, pairing: str,
                       update: str, p: dict[str, float]) -> tuple[float, ...]:
    """Pfister & Gerstner 2006, eqs. (3)-(4): the weight change reads r2 / o2 before the
    spike's own increment; nearest-spike traces are set to 1."""
    r1 = r2 = o1 = o2 = 0.0
    last = 0
    lo, hi = p["wmin"], p["wmax"]
    for step, kind in _events(pre, post):
        el = (step - last) * DT
        r1 *= math.exp(-el / p["tau_plus"])
        r2 *= math.exp(-el / p["tau_x"])
        o1 *= math.exp(-el / p["tau_minus"])
        o2 *= math.exp(-el / p["tau_y"])
        last = step
        if kind == 0:
            dep = o1 * (p["A2minus"] + p["A3minus"] * r2)
            w = _clip(w - dep if update == "additive" else w - dep * (w - lo), lo, hi)
            r1, r2 = (r1 + 1, r2 + 1) if pairing == "all_to_all" else (1.0, 1.0)
        else:
            pot = r1 * (p["A2plus"] + p["A3plus"] * o2)
            w = _clip(w + pot if update == "additive" else w + pot * (hi - w), lo, hi)
            o1, o2 = (o1 + 1, o2 + 1) if pairing == "all_to_all" else (1.0, 1.0)
    return w, r1, r2, o1, o2


@pytest.mark.parametrize("backend, pairing, update", [
    ("torch", "all_to_all", "additive"), ("torch", "nearest", "additive"),
    ("torch", "all_to_all", "multiplicative"),
    pytest.param("triton", "all_to_all", "additive", marks=BACKENDS[1].marks),
])
def test_triplet_stdp_matches_reference(backend: str, pairing: str, update: str,
                                        fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    steps = 2000 if backend == "torch" else 300
    for _ in range(20):  # a draw whose weights do not all end on a bound (see _sensitive)
        # amplitudes far above the paper's fit, so that every term and the bounds matter
        p = {"tau_plus": float(rng.uniform(10, 20)), "tau_minus": float(rng.uniform(20, 40)),
             "tau_x": float(rng.uniform(50, 150)), "tau_y": float(rng.uniform(30, 130)),
             "A2plus": float(rng.uniform(0.005, 0.02)),
             "A3plus": float(rng.uniform(0.005, 0.02)),
             "A2minus": float(rng.uniform(0.005, 0.02)),
             "A3minus": float(rng.uniform(0.005, 0.02)), "wmin": 0.0, "wmax": 1.0}
        pre = _trains(rng, N_PRE, steps, _p(steps))
        post = _trains(rng, N_POST, steps, _p(steps))
        i, j = _pairs(rng)
        w0 = rng.uniform(0.2, 0.8, i.size)
        ref = np.array([_triplet_reference(pre[a], post[b], w, pairing, update, p)
                        for a, b, w in zip(i, j, w0)])
        if np.sum((ref[:, 0] > 1e-3) & (ref[:, 0] < 1 - 1e-3)) >= 3:
            break
    model = triplet_stdp(pairing=pairing, update=update, on_pre_effect=None,
                         **{k: (v * ms if k.startswith("tau") else v) for k, v in p.items()})
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        syn = sc.Connection(_generator(pre, "pre"), _generator(post, "post"), model, i=i, j=j,
                            weight=w0)
    sim = _compile(net, backend)
    sim.run(steps * DT * ms)
    _sensitive(ref[:, 0], w0, p["wmin"], p["wmax"], fresh_seed)
    for k, var in enumerate(("w", "r1", "r2", "o1", "o2")):
        _check(sim, syn.name, var, ref[:, k], _tol(backend), fresh_seed)


def test_triplet_defaults_are_the_visual_cortex_fit() -> None:
    aa = triplet_stdp().params
    assert aa["A3plus"] == 6.2e-3 and aa["A2minus"] == 7e-3 and aa["A3minus"] == 2.3e-4
    assert aa["tau_x"].value == pytest.approx(0.101) and aa["tau_y"].value == pytest.approx(
        0.125)
    nn = triplet_stdp(pairing="nearest", A3plus=0.01).params
    assert nn["A3plus"] == 0.01 and nn["tau_x"].value == pytest.approx(0.714)


# ----------------------------------------------------------- reward-modulated STDP
def _reward_reference(pre: np.ndarray, post: np.ndarray, w: float, d: float,
                      p: dict[str, float], steps: int, kicks: dict[int, float],
                      dopamine: np.ndarray | None = None) -> tuple[float, float, float]:
    """Izhikevich 2007 with soft bounds, one synapse, step by step: first the clock-driven
    part (c and d decay; w relaxes towards wmax at rate c*d/tau_w while c*d > 0, towards
    wmin while c*d < 0, exactly for c*d frozen over the step), then the step's events (STDP
    into c). ``kicks[n]``: added to d by the host before step n. ``dopamine``: d read from
    the postsynaptic neuron instead (its value of each step, after the neuron's update)."""
    apre = apost = c = 0.0
    last = 0
    events = _events(pre, post)
    e = 0
    lo, hi = p["wmin"], p["wmax"]
    for n in range(steps):
        d += kicks.get(n, 0.0)
        reward = d if dopamine is None else dopamine[n]
        k = c * reward / p["tau_w"]
        w = hi - (hi - w) * math.exp(-k * DT) if k > 0 else lo + (w - lo) * math.exp(k * DT)
        c *= math.exp(-DT / p["tau_c"])
        d *= math.exp(-DT / p["tau_d"])
        while e < len(events) and events[e][0] == n:
            el = (n - last) * DT
            apre *= math.exp(-el / p["taupre"])
            apost *= math.exp(-el / p["taupost"])
            last = n
            if events[e][1] == 0:
                apre += p["Apre"]
                c += apost
            else:
                apost += p["Apost"]
                c += apre
            e += 1
    return w, c, d


def _reward_params(rng: np.random.Generator) -> dict[str, float]:
    return {"taupre": float(rng.uniform(5, 20)), "taupost": float(rng.uniform(5, 20)),
            "Apre": float(rng.uniform(0.1, 0.3)), "Apost": -float(rng.uniform(0.1, 0.3)),
            "tau_c": float(rng.uniform(20, 100)), "tau_d": float(rng.uniform(5, 50)),
            "tau_w": float(rng.uniform(50, 200)), "wmin": -0.5, "wmax": 1.5}


def _with_units(p: dict[str, float]) -> dict[str, object]:
    return {k: (v * ms if k.startswith("tau") else v) for k, v in p.items()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_reward_stdp_host_reward_matches_reference(backend: str, fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    steps = 2000 if backend == "torch" else 300
    half = steps // 2
    p = _reward_params(rng)
    pre, post = _trains(rng, N_PRE, steps, _p(steps)), _trains(rng, N_POST, steps, _p(steps))
    i, j = _pairs(rng)
    w0 = rng.uniform(0.0, 1.0, i.size)
    d0 = rng.uniform(0.0, 0.5, i.size)  # a reward per synapse at the start
    kick = rng.uniform(-1.0, 1.0, i.size)  # a reward (or punishment) given halfway
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        syn = sc.Connection(_generator(pre, "pre"), _generator(post, "post"),
                            reward_stdp(on_pre_effect=None, **_with_units(p)), i=i, j=j,
                            weight=w0, init={"d": d0})
    sim = _compile(net, backend)
    sim.run(half * DT * ms)
    sim.get(syn.name, "d")[0] += torch.as_tensor(kick, dtype=torch.float64)
    sim.run((steps - half) * DT * ms)
    ref = np.array([_reward_reference(pre[a], post[b], w, d, p, steps, {half: k})
                    for a, b, w, d, k in zip(i, j, w0, d0, kick)])
    _sensitive(ref[:, 0], w0, p["wmin"], p["wmax"], fresh_seed)
    for k, var in enumerate(("w", "c", "d")):
        _check(sim, syn.name, var, ref[:, k], _tol(backend), fresh_seed)
    w = sim.get(syn.name, "w")
    assert float(w.min()) >= p["wmin"] and float(w.max()) <= p["wmax"]


def test_reward_stdp_dopamine_spikes_into_post_group(fresh_seed: int) -> None:
    """The reward read from the postsynaptic neurons (reward="d_post"), raised by the spikes
    of a dopamine group; the postsynaptic neurons fire regularly (v grows by a fixed
    amount a step; threshold 1, reset 0) and receive the transmission ("g += w")."""
    rng = np.random.default_rng(fresh_seed)
    steps = 2000
    p = _reward_params(rng)
    tau_g = float(rng.uniform(2, 10))
    pre = _trains(rng, N_PRE, steps, _p(steps))
    dopa = _trains(rng, 1, steps, _p(steps))
    amount = float(rng.uniform(0.1, 0.5))
    # increments far from ties with the threshold after any number of steps
    incs = np.array([0.0937, 0.0611, 0.1371, 0.0493]) * rng.uniform(0.97, 1.03)
    i, j = _pairs(rng)
    w0 = rng.uniform(0.0, 1.0, i.size)
    neuron = sc.NeuronModel("""
        dv/dt = inc/dt_step : 1
        dd/dt = -d/tau_d : 1
        dg/dt = -g/tau_g : 1
        inc : 1
        """, threshold="v > 1", reset="v = 0",
        params={"dt_step": DT * ms, "tau_d": p["tau_d"] * ms, "tau_g": tau_g * ms})
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        post = sc.NeuronGroup(N_POST, neuron, params={"inc": incs}, name="post")
        src = _generator(pre, "pre")
        syn = sc.Connection(src, post, reward_stdp(reward="d_post", on_pre_effect="g += w",
                                                   **_with_units(p)), i=i, j=j, weight=w0)
        sc.Connection(_generator(dopa, "dopamine"), post, on_pre=f"d += {amount!r}")
        mon = sc.SpikeMonitor(post)
    sim = _compile(net, "torch")
    sim.run(steps * DT * ms)
    # the postsynaptic group, eagerly: v, its spikes, the dopamine d and the input g
    v = np.zeros(N_POST)
    d = np.zeros(N_POST)
    g = np.zeros(N_POST)
    d_seen = np.zeros((steps, N_POST))
    post_trains: list[list[int]] = [[] for _ in range(N_POST)]
    for n in range(steps):
        v += incs
        d *= math.exp(-DT / p["tau_d"])
        g *= math.exp(-DT / tau_g)
        d_seen[n] = d  # what the synapses' clock-driven update reads
        spk = v > 1
        for k in np.nonzero(spk)[0]:
            post_trains[k].append(n)
        if n in set(dopa[0].tolist()):
            d += amount
        v[spk] = 0.0
    post_steps = [np.array(t, dtype=int) for t in post_trains]
    got = sorted(zip(np.round(np.asarray(mon.t / ms) / DT).astype(int).tolist(),
                     np.asarray(mon.i).tolist()))
    want = sorted((s, k) for k, t in enumerate(post_trains) for s in t)
    assert got == want, f"postsynaptic spikes differ (seed {fresh_seed})"
    ref = np.array([_reward_reference(pre[a], post_steps[b], w, 0.0, p, steps, {},
                                      dopamine=d_seen[:, b]) for a, b, w in zip(i, j, w0)])
    _sensitive(ref[:, 0], w0, p["wmin"], p["wmax"], fresh_seed)
    _check(sim, syn.name, "w", ref[:, 0], 1e-12, fresh_seed)
    _check(sim, syn.name, "c", ref[:, 1], 1e-12, fresh_seed)


# ------------------------------------------------- no change without both sides firing
@pytest.mark.parametrize("silent", ["pre", "post"])
@pytest.mark.parametrize("make", [
    lambda: stdp(update="additive", on_pre_effect=None),
    lambda: stdp(pairing="nearest", update="multiplicative", on_pre_effect=None),
    lambda: triplet_stdp(A2plus=0.05, A3plus=0.05, A2minus=0.05, A3minus=0.05,
                         on_pre_effect=None),
    lambda: triplet_stdp(pairing="nearest", update="multiplicative", on_pre_effect=None),
    lambda: reward_stdp(on_pre_effect=None),
], ids=["stdp", "stdp-nearest-mult", "triplet", "triplet-nearest-mult", "reward"])
def test_no_weight_change_when_one_side_never_fires(make, silent: str,
                                                     fresh_seed: int) -> None:
    """Sapicore's STDP potentiates from neurons that never fired; here a synapse whose
    presynaptic neuron is silent is never potentiated (its postsynaptic neuron fires a
    lot), and one whose postsynaptic neuron is silent is never depressed."""
    rng = np.random.default_rng(fresh_seed)
    steps = 1000
    pre, post = _trains(rng, N_PRE, steps, 0.05), _trains(rng, N_POST, steps, 0.05)
    if silent == "pre":
        pre[1] = np.zeros(0, dtype=int)
    else:
        post[2] = np.zeros(0, dtype=int)
    i, j = _pairs(rng)
    w0 = rng.uniform(0.3, 0.7, i.size)
    model = make()
    net = sc.Network(dt=DT * ms, seed=fresh_seed)
    with net:
        syn = sc.Connection(_generator(pre, "pre"), _generator(post, "post"), model, i=i, j=j,
                            weight=w0, init={"d": 1.0} if "d" in model.equations.equations
                            else {})
    sim = _compile(net, "torch")
    sim.run(steps * DT * ms)
    w = sim.get(syn.name, "w")[0].numpy()
    quiet = (i == 1) if silent == "pre" else (j == 2)
    assert np.array_equal(w[quiet], w0[quiet]), f"seed {fresh_seed}: {w[quiet]} != {w0[quiet]}"
    assert np.any(w[~quiet] != w0[~quiet]), "the other synapses should have changed"


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, match", [
    (lambda: stdp(pairing="nearest_neighbour"), "pairing must be one of"),
    (lambda: stdp(update="soft"), "update must be one of"),
    (lambda: stdp(taupre=-5 * ms), "taupre must be a positive time"),
    (lambda: stdp(taupost=0), "taupost must be a positive time"),
    (lambda: stdp(taupre="20 ms"), "taupre must be a time"),
    (lambda: stdp(wmin=1.0, wmax=0.5), "wmax must be greater than wmin"),
    (lambda: stdp(Apre=float("nan")), "Apre must be finite"),
    (lambda: stdp(Apre="big"), "Apre must be a number"),
    (lambda: stdp(update="multiplicative", Apost=0.01), "Apost <= 0"),
    (lambda: stdp(wmax=1 * ms), "wmax must be a plain number"),
    (lambda: stdp(on_pre_effect=3), "on_pre_effect must be a statement"),
    (lambda: triplet_stdp(A3plus=-0.1), "A3plus must be >= 0"),
    (lambda: triplet_stdp(tau_y=-1 * ms), "tau_y must be a positive time"),
    (lambda: triplet_stdp(pairing="minimal"), "pairing must be one of"),
    (lambda: reward_stdp(tau_c=0 * ms), "tau_c must be a positive time"),
    (lambda: reward_stdp(reward=""), "reward must be None"),
    (lambda: reward_stdp(wmin=2.0), "wmax must be greater than wmin"),
])
def test_bad_parameters_name_the_argument(call, match: str) -> None:
    with pytest.raises(sc.ParameterError, match=match) as info:
        call()
    assert info.value.__class__.__name__ == "ParameterError"


def test_unknown_reward_name_is_a_clear_error() -> None:
    net = sc.Network(dt=DT * ms, seed=0)
    with net:
        a = _generator([np.array([1]), np.array([2])], "a")
        b = _generator([np.array([3])], "b")
        sc.Connection(a, b, reward_stdp(reward="dopamine_post", on_pre_effect=None))
    with pytest.raises(sc.UnknownNameError, match="dopamine_post"):
        net.compile()


def test_transmission_into_a_missing_variable_is_a_clear_error() -> None:
    net = sc.Network(dt=DT * ms, seed=0)
    with net:
        a = _generator([np.array([1])], "a")
        b = _generator([np.array([3])], "b")
        sc.Connection(a, b, stdp())  # on_pre_effect "ge += w", but b has no ge
    with pytest.raises(sc.SnnccError, match="ge"):
        net.compile()


def test_docstring_example_runs() -> None:
    result = doctest.testmod(plasticity, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
