"""PoissonInput: N Poisson sources per neuron drawn as one binomial count per neuron and
step (Brian2's ``PoissonInput``), on the torch and Triton backends."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import snncc as sc
from snncc.ir import plan as st
from snncc.ir.program import INPUT_EXACT_MAX_MEAN
from snncc.passes import run_passes
from snncc.units import Hz, amp, ms, mV, nA, pA, second

DT = 0.1 * ms
#: Triton runs compiled on a GPU, else in the interpreter on the CPU
TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
#: a variable that only accumulates: its per-step increments are the input's draws
ACCUMULATE = "dI/dt = 0*I/ms : amp"


def _increments(backend: str, n_neurons: int, steps: int, N: int, rate: object,
                weight: object, seed: int, batch: int = 1) -> np.ndarray:
    """The per-step increments of ``I`` of every neuron (batch entries stacked), in units
    of ``weight``."""
    net = sc.Network(dt=DT, seed=seed)
    with net:
        G = sc.NeuronGroup(n_neurons, ACCUMULATE, name="G")
        sc.PoissonInput(G, "I", N, rate, weight, name="bg")
        mon = sc.StateMonitor(G, "I", record=True)
    device = TRITON_DEVICE if backend == "triton" else "cpu"
    sim = net.compile(backend=backend, device=device, dtype=torch.float64, batch=batch)
    sim.run(steps * DT)
    trace = np.asarray(mon.I / amp).reshape(-1, steps)  # rows: (batch,) neuron
    return np.diff(trace, axis=1).reshape(-1) / float(weight / amp)


def _check_moments(x: np.ndarray, N: int, p: float) -> None:
    """Mean and variance of the draws ``x`` against Binomial(N, p), within 5 standard
    errors of the sample moments (the variance's from the binomial's fourth moment; the
    normal approximation's rounding adds 1/12 to its variance)."""
    M = x.size
    mean, var = N * p, N * p * (1 - p)
    assert np.allclose(x, np.round(x), rtol=0, atol=1e-6)  # whole numbers of weights
    x = np.round(x)
    assert x.min() >= 0 and x.max() <= N
    assert abs(x.mean() - mean) < 5 * math.sqrt(var / M), (x.mean(), mean)
    excess = (1 - 6 * p * (1 - p)) / var
    rounding = 1 / 12 if mean > INPUT_EXACT_MAX_MEAN else 0.0
    sd_var = var * math.sqrt((2 + excess) / M)
    assert abs(x.var() - var - rounding) < 5 * sd_var, (x.var(), var)


# --------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("N,rate", [(1600, 8 * Hz), (40, 3000), (200_000, 20 * Hz)],
                         ids=["exact_microcircuit", "exact_p_above_half", "normal"])
def test_torch_increments_are_binomial(N: int, rate: object, fresh_seed: int) -> None:
    """Per-step increments on torch (float64, batch 2) have the binomial's mean and
    variance: exact draws (N p = 1.28; N p = 12 with p = 0.3) and the normal
    approximation (N p = 400)."""
    x = _increments("torch", 1000, 21, N, rate, 2.5 * pA, fresh_seed, batch=2)
    p = float(rate / Hz if hasattr(rate, "dim") else rate) * float(DT / second)
    _check_moments(x, N, p)


@pytest.mark.parametrize("N,rate", [(1600, 8 * Hz), (20, 7000 * Hz), (200_000, 20 * Hz)],
                         ids=["exact_microcircuit", "exact_flipped", "normal"])
def test_triton_increments_are_binomial(N: int, rate: object, fresh_seed: int) -> None:
    """The same on Triton (interpreter, float64): inversion over the host's loop bound
    (p > 1/2 drawn as N - Binomial(N, 1 - p)) and the normal approximation."""
    pytest.importorskip("triton")
    x = _increments("triton", 500, 9, N, rate, 2.5 * pA, fresh_seed, batch=2)
    _check_moments(x, N, float(rate / Hz) * float(DT / second))


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_slices_of_a_group_get_their_own_inputs(backend: str, fresh_seed: int) -> None:
    """Inputs into slices of one group (the microcircuit's populations: one group, a
    number of sources per population): each slice's increments are its own binomial's,
    the neurons outside every slice get none (float64, batch 2)."""
    if backend == "triton":
        pytest.importorskip("triton")
    steps = 21 if backend == "torch" else 9
    net = sc.Network(dt=DT, seed=fresh_seed)
    with net:
        G = sc.NeuronGroup(900, ACCUMULATE, name="G")
        sc.PoissonInput(G[0:400], "I", 1600, 8 * Hz, 1 * pA, name="a")
        sc.PoissonInput(G[400:800], "I", 30, 5000 * Hz, 1 * pA, name="b")
        mon = sc.StateMonitor(G, "I", record=True)
    device = TRITON_DEVICE if backend == "triton" else "cpu"
    sim = net.compile(backend=backend, device=device, dtype=torch.float64, batch=2)
    assert "G[400:800].I" in sim.program.describe()
    (stage,) = [s for s in sim.program.plan.stages if isinstance(s, st.DrawInput)]
    assert stage.names == ("a", "b")  # exact, disjoint: drawn at once
    sim.run(steps * DT)
    x = np.diff(np.asarray(mon.I / pA).reshape(2, 900, steps), axis=2)
    _check_moments(x[:, :400].reshape(-1), 1600, 8 * 1e-4)
    _check_moments(x[:, 400:800].reshape(-1), 30, 0.5)
    assert not x[:, 800:].any()


def test_only_exact_inputs_into_disjoint_slices_merge() -> None:
    net = sc.Network(dt=DT)
    with net:
        G = sc.NeuronGroup(30, ACCUMULATE, name="G")
        sc.PoissonInput(G[0:10], "I", 100, 8 * Hz, 1 * pA, name="a")
        sc.PoissonInput(G[5:15], "I", 100, 8 * Hz, 1 * pA, name="overlap")
        sc.PoissonInput(G[15:20], "I", 100, 8 * Hz, 1 * pA, name="c")
        sc.PoissonInput(G[20:25], "I", 20, 8000 * Hz, 1 * pA, name="flipped")
        sc.PoissonInput(G[25:30], "I", 10**6, 8 * Hz, 1 * pA, name="normal")
    program = run_passes(net.lower())
    stages = [s.names for s in program.plan.stages if isinstance(s, st.DrawInput)]
    assert stages == [("a",), ("overlap", "c"), ("flipped",), ("normal",)]


def test_inversion_bound_covers_the_tail() -> None:
    """The Triton loop bound K: the smallest k with P(X > k) < 1e-12."""
    from scipy.stats import binom

    from snncc.backends.common import INPUT_TAIL, inversion_bound

    for n, q in [(1600, 8e-4), (2100, 8e-4), (60, 0.5), (1, 0.3), (300, 0.1)]:
        K = inversion_bound(n, q)
        assert binom.sf(K, n, q) < INPUT_TAIL <= binom.sf(K - 1, n, q), (n, q, K)
    assert inversion_bound(0, 0.3) == inversion_bound(10, 0.0) == 0


# --------------------------------------------------------------------------------- slot
def _reset_race(backend: str, schedule: str = "brian2") -> tuple[np.ndarray, np.ndarray]:
    """rate * dt = 1 and N = 1: every step adds exactly 1 mV to v; v > 2.5 mV spikes
    and resets v, in the step where the input also adds. Returns (spike steps of
    neuron 0, v of neuron 0 at the start of each step in mV)."""
    net = sc.Network(dt=DT, seed=0, schedule=schedule)
    with net:
        G = sc.NeuronGroup(3, "dv/dt = -v/(10*ms) : volt", threshold="v > 2.5*mV",
                           reset="v = 0*mV", method="exact", name="G")
        sc.PoissonInput(G, "v", 1, 1 / DT, 1 * mV)
        spikes = sc.SpikeMonitor(G)
        vm = sc.StateMonitor(G, "v", record=[0])
    device = TRITON_DEVICE if backend == "triton" else "cpu"
    net.compile(backend=backend, device=device, dtype=torch.float64).run(2 * ms)
    steps = np.round(np.asarray(spikes.t / second) / float(DT / second)).astype(int)
    return steps[spikes.i == 0], np.asarray(vm.v / mV)[0]


@pytest.mark.brian2
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_reset_wins_over_the_input_as_in_brian2() -> None:
    """The input runs after the thresholds and before the resets: in a spike's step the
    reset overwrites the input's addition (v starts at 0 after every spike). The same
    spikes and trace as Brian2's PoissonInput (numpy target) on every backend and
    schedule."""
    pytest.importorskip("brian2")
    from brian2 import Network as B2Network
    from brian2 import NeuronGroup as B2Group
    from brian2 import PoissonInput as B2Input
    from brian2 import SpikeMonitor as B2Spikes
    from brian2 import StateMonitor as B2State
    from brian2_util import setup_brian2, to_brian2

    setup_brian2(float(DT / second))
    G = B2Group(3, "dv/dt = -v/(10*ms) : volt", threshold="v > 2.5*mV", reset="v = 0*mV",
                method="exact")
    inp = B2Input(G, "v", 1, 1 / to_brian2(DT), weight=to_brian2(1 * mV))
    b2_spikes, b2_v = B2Spikes(G), B2State(G, "v", record=[0])
    B2Network(G, inp, b2_spikes, b2_v).run(to_brian2(2 * ms))
    ref_steps = np.round(np.asarray(b2_spikes.t_)[b2_spikes.i[:] == 0] / float(DT / second))
    ref_v = np.asarray(b2_v.v_[0]) * 1e3
    assert list(ref_steps) == [3, 7, 11, 15, 19]  # every 4th step: 0, 1, 2, 3 (spike)
    runs = [("torch", "brian2"), ("torch", "layered")]
    if __import__("importlib").util.find_spec("triton"):
        runs.append(("triton", "brian2"))
    for backend, schedule in runs:
        steps, v = _reset_race(backend, schedule)
        assert list(steps) == list(ref_steps.astype(int)), (backend, schedule, steps)
        np.testing.assert_allclose(v, ref_v, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("schedule", ["brian2", "layered"])
def test_plan_places_the_input_in_the_synaptic_slot(schedule: str) -> None:
    """After the threshold and spike monitors, before the pathways and the reset; the
    reset of the input's variable is not fused with the threshold (it must follow the
    input); the input is a kernel of its own, before the pathway kernels."""
    net = sc.Network(dt=DT, seed=0, schedule=schedule)
    with net:
        A = sc.NeuronGroup(4, "lif", name="A")
        B = sc.NeuronGroup(4, "lif", name="B")
        sc.Connection(A, B, on_pre="v_post += 1*mV", name="AB")
        sc.SpikeMonitor(A, name="spA")
    before = run_passes(net.lower()).plan
    with net:
        sc.PoissonInput(A, "v", 10, 5 * Hz, 0.5 * mV, name="bg")
    plan = run_passes(net.lower()).plan
    kinds = [type(s).__name__ for s in plan.stages]
    at = kinds.index("DrawInput")
    assert plan.stages[at] == st.DrawInput("bg", "A")
    assert kinds.index("RecordSpikes") < at < kinds.index("Pathway")
    resets = [s for s in plan.stages if isinstance(s, st.Reset)]
    fused = {s.population: s.fused for s in before.stages if isinstance(s, st.Reset)}
    assert fused["A"] and {r.population: r.fused for r in resets} == {**fused, "A": False}
    assert at < plan.stages.index(next(r for r in resets if r.population == "A"))
    kernels = [k.kind for k in plan.kernels]
    assert kernels.index("input") < kernels.index("pathway")
    assert "Poisson input bg -> A" in plan.describe()


# --------------------------------------------------------------------------- generated
def test_source_shows_the_input_and_its_method() -> None:
    """The generated code of both backends carries the input's statement and method."""
    net = sc.Network(dt=DT, seed=0)
    with net:
        G = sc.NeuronGroup(4, ACCUMULATE, name="G")
        sc.PoissonInput(G, "I", 1600, 8 * Hz, 87.8 * pA, name="bg")
        sc.PoissonInput(G, "I", 10**6, 8 * Hz, 1 * pA, name="bulk")
    sim = net.compile(backend="torch", device="cpu")
    src = sim.source()
    assert "# ==== Poisson input: bg -> G ====" in src
    assert "X ~ Binomial(N=1600, p=0.0008)" in src and "exact, by inversion" in src
    assert "torch.searchsorted(" in src and "u >= P(Y <= k)" in src
    assert "normal approximation" in src and ".round_().clamp_(0, 1000000)" in src
    assert "Poisson input bg: G.I += 8.78e-11 * X" in sim.describe()
    pytest.importorskip("triton")
    tsrc = net.compile(backend="triton", device=TRITON_DEVICE).source()
    assert "def bg_input(" in tsrc and "X exactly, by inversion" in tsrc
    assert "def bulk_input(" in tsrc and "_r.normal(" in tsrc


def test_unitless_model_takes_bare_numbers() -> None:
    """A unitless model (times in ms) takes a bare weight in its own units; the
    rate is in Hz all the same."""
    net = sc.Network(dt=DT, seed=3)
    with net:
        G = sc.NeuronGroup(200, "dv/dt = 0*v/tau : 1", params={"tau": 10.0}, name="G")
        sc.PoissonInput(G, "v", 1000, 10, 0.5)
        mon = sc.StateMonitor(G, "v", record=True)
    net.compile(backend="torch", device="cpu", dtype=torch.float64).run(10 * DT)
    v = np.asarray(mon.v)
    # 9 steps of 0.5 * Binomial(1000, 10 Hz * 0.1 ms): mean 4.5, standard error 0.11
    assert v[:, 0].max() == 0 and abs(v[:, -1].mean() - 4.5) < 0.6


# ---------------------------------------------------------------------------- bad input
def _net_with(**kw: object) -> sc.Network:
    """A network with a unit-aware group G (I in amp) and one PoissonInput of ``kw``."""
    net = sc.Network(dt=DT, seed=0)
    with net:
        G = sc.NeuronGroup(3, ACCUMULATE + "\nw0 : 1 (constant)", name="G")
        args = {"target": G, "target_var": "I", "N": 10, "rate": 10 * Hz,
                "weight": 1 * pA, **kw}
        sc.PoissonInput(**args)
    return net


@pytest.mark.parametrize("kw,error,fragment", [
    ({"N": -1}, sc.ParameterError, "non-negative integer"),
    ({"N": 2.5}, sc.ParameterError, "non-negative integer"),
    ({"N": True}, sc.ParameterError, "non-negative integer"),
    ({"rate": -1 * Hz}, sc.ParameterError, "rate must be >= 0"),
    ({"rate": 5 * mV}, sc.UnitError, "rate must be in Hz"),
    ({"rate": "10*Hz"}, sc.ParameterError, "string rate ('10*Hz') is not supported"),
    ({"weight": "1*pA"}, sc.ParameterError, "string weight ('1*pA') is not supported"),
    ({"weight": np.ones(3) * pA}, sc.ParameterError, "one finite value"),
    ({"target_var": "1x"}, sc.ParameterError, "target_var must be the name"),
])
def test_bad_arguments_are_refused_at_construction(kw: dict, error: type,
                                                  fragment: str) -> None:
    with pytest.raises(error, match=None) as info:
        _net_with(**kw)
    assert fragment in str(info.value)


@pytest.mark.parametrize("kw,error,fragments", [
    ({"target_var": "Ix"}, sc.UnknownNameError, ["no variable 'Ix'", "did you mean 'I'"]),
    ({"target_var": "w0"}, sc.ParameterError, ["declared (constant)"]),
    ({"weight": 1 * mV}, sc.UnitError, ["unit volt", "in amp"]),
    ({"weight": 2.0}, sc.UnitError, ["unit 1 (dimensionless)", "in amp"]),
    ({"rate": 20000 * Hz}, sc.ParameterError, ["rate * dt = 20000 Hz * 0.1 ms = 2 > 1"]),
])
def test_bad_inputs_are_refused_when_lowered(kw: dict, error: type,
                                             fragments: list[str]) -> None:
    net = _net_with(**kw)
    with pytest.raises(error) as info:
        net.lower()
    for f in fragments:
        assert f in str(info.value)


def test_bad_targets_are_refused() -> None:
    net = sc.Network(dt=DT)
    with net:
        G = sc.NeuronGroup(4, ACCUMULATE, name="G")
        P = sc.PoissonGroup(4, 10 * Hz, name="P")
        for target in (P, P[:2]):
            with pytest.raises(sc.NetworkError, match="NeuronGroup or a slice of one"):
                sc.PoissonInput(target, "I", 10, 10 * Hz, 1 * pA)
    other = sc.NeuronGroup(4, ACCUMULATE, name="other")  # in no network
    with net:
        sc.PoissonInput(other, "I", 10, 10 * Hz, 1 * pA, name="lost")
    with pytest.raises(sc.NetworkError, match="not part of this network"):
        net.lower()
    with pytest.raises(TypeError):  # an unknown keyword
        sc.PoissonInput(G, "I", 10, 10 * Hz, 1 * pA, delay=1 * ms)  # type: ignore


def test_unitless_model_refuses_a_weight_with_units() -> None:
    net = sc.Network(dt=DT)
    with net:
        G = sc.NeuronGroup(2, "dv/dt = 0*v/tau : 1", params={"tau": 10.0}, name="G")
        sc.PoissonInput(G, "v", 10, 10 * Hz, 1 * nA)
    with pytest.raises(sc.UnitError, match="unitless; give a plain number"):
        net.lower()


def test_poisson_group_error_points_to_poisson_input() -> None:
    net = sc.Network(dt=DT)
    with net:
        sc.PoissonGroup(2, 20_000 * Hz)
    with pytest.raises(sc.ParameterError, match="snncc.PoissonInput"):
        net.lower()


def test_training_refuses_a_poisson_input() -> None:
    """Trained layers draw no Poisson input: a network with one is refused, not trained
    without it."""
    net = sc.Network(dt=1 * ms, schedule="layered")
    with net:
        inp = sc.Encoder(4, coding="rate")
        g = sc.NeuronGroup(3, "lif", name="g")
        sc.Connection(inp, g, on_pre="v += w*mV", weight=1.0)
        sc.PoissonInput(g, "v", 10, 5 * Hz, 0.1 * mV, name="bg")
    with pytest.raises(sc.NetworkError, match="PoissonInput 'bg' cannot be trained"):
        net.build(learner="STCA")
