"""Backend equivalence (Invariant 1 of ARCHITECTURE.md): every backend computes the same
function as the reference, the torch backend in float64 on the CPU.

For every backend in ``snncc.backends.BACKENDS`` (on each device it supports; CUDA
devices are marked ``gpu``) and every case -- each model of ``snncc.library.names()``
(read when the tests are collected, so models added to the library are covered
automatically) driven by a constant input through its input variable ``I``, and two
example networks (CUBA with 500 neurons; spike trains -> LIF layer with random per-synapse
delays -> COBA layer with a homogeneous delay) -- the network is built twice from the
same fresh random seed (drawn from ``os.urandom`` for every run, printed on failure;
``SNNCC_TEST_SEED=<seed>`` reruns it) and run for ``N_STEPS`` steps: once as the
reference and once on the backend, in float32 (and in float64, except on the reference
itself).

What must agree
---------------
* Spike trains are identical, step for step, for all ``N_STEPS`` steps -- unless float
  rounding flips a threshold crossing (the state lies within rounding error of the
  threshold). Then the first divergence step ``d`` is measured (per neuron when the
  neurons are independent, network-wide when they are coupled by synapses) and
* every recorded state variable agrees up to and including step ``d`` (values at the
  start of each step)::

      |x - x_ref| <= rtol * scale + ulps * eps * |x_ref|   [+ shift * |step change of x_ref|]

  where ``scale`` is the largest ``|x_ref|`` of that variable (over neurons and steps),
  ``eps`` the machine epsilon of the compared dtype, and the bracketed time-shift term
  applies only to populations whose equations are not integrated exactly (nonlinear);
* a flip is a rare, local event, so: at the first divergence step at most
  ``MAX_FLIPS_AT_DIVERGENCE`` neurons differ; among independent neurons at most
  ``MAX_DIVERGED_FRACTION`` diverge within the window; and the spike count of every
  population (of every neuron, for independent neurons) stays within ``COUNT_RTOL``
  (plus ``COUNT_SLACK`` spikes) of the reference over the whole window, after a
  divergence too.

Tolerances (float32)
--------------------
``rtol = 1e-4``: float32 rounds each operation to eps = 1.2e-7 relative, and a rounded
constant (a decay factor such as 0.9995) biases every step the same way, so after
``N_STEPS = 1000`` steps a slowly decaying variable may be off by ~1000 * 6e-8 = 6e-5 of
its scale; the measured worst case over many seeds is 1.5e-5 (ALIF's adaptation
variable; LIF and CUBA stay below 1e-5).
``shift = 1`` step: nonlinear models (exponential, quadratic, Hodgkin-Huxley) amplify
rounding near a spike -- AdEx doubles an error every step of its upstroke, and near
rheobase it passes slowly through a bottleneck -- so the float32 trajectory leads or
lags the reference by a fraction of a step there (measured worst case 0.32 step, AdEx,
over 40 seeds x 16 neurons); the absolute error is then up to ~5e-3 of the scale, which
is why a pure relative bound cannot be used. A lag of a whole step is what a threshold
flip is, and is caught as one.
``ulps = 64``: for values near zero.
Flips: ``MAX_FLIPS_AT_DIVERGENCE = 2``, ``MAX_DIVERGED_FRACTION = 0.25`` (measured: at
most 2 of 16 neurons, CLIF, whose V = M - S - E cancels), ``COUNT_RTOL = 0.1`` with
``COUNT_SLACK = 2`` (after a flip an independent neuron gains or loses at most one spike;
CUBA's total count stays within 0.5%).

Tolerances (float64, other backends)
------------------------------------
``rtol = 1e-9``, ``shift = 1e-3`` step: the float32 bounds scaled by the ratio of the
machine epsilons (2e-9) with a 500x margin for differing libm/FMA rounding.

Backends here: torch (CPU; CUDA under ``-m gpu``) and triton (CPU in Triton's interpreter,
which runs the generated kernels unchanged; CUDA under ``-m gpu``). Triton sums the
synaptic inputs of one neuron with atomic adds, in another order than torch's
``index_add_``: a rounding difference of a few ulps, within the tolerances below (measured:
float64 spikes identical to the reference on every case; float32 as torch float32).

Randomness drawn while running (Poisson groups, ``xi`` noise, ``rand()`` in code) is
not part of this comparison: float32 and float64 draw different streams (and other
backends other generators). The random inputs here are drawn on the host from the
seed: SpikeGeneratorGroup spike trains (Poisson), connectivity, weights, delays,
initial values and per-neuron drives.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from snncc.kernels import interpreting

import snncc as sc
from snncc.backends import BACKENDS
from snncc.units import Dimension, Hz, ms, mV, nA, nS, volt

N_STEPS = 1000
DT_MS = 0.1
TRACE_RTOL = 1e-4
TRACE_SHIFT = 1.0  # steps (nonlinear populations only)
TRACE_ATOL_ULP = 64
TRACE_RTOL_F64 = 1e-9
TRACE_SHIFT_F64 = 1e-3
MAX_FLIPS_AT_DIVERGENCE = 2
MAX_DIVERGED_FRACTION = 0.25
COUNT_RTOL = 0.1
COUNT_SLACK = 2

REFERENCE = ("torch", "cpu", torch.float64)


def _devices(backend: str) -> list:
    """(backend, device) parameters; CUDA devices are marked ``gpu``."""
    devices = {"torch": ["cpu", "cuda"], "triton": ["cpu", "cuda"]}.get(backend, ["cuda"])
    # Triton runs on the CPU only in its interpreter, which is off where CUDA is available
    # (unless TRITON_INTERPRET=1 was set before Triton was imported)
    no_interpreter = pytest.mark.skipif(
        backend == "triton" and torch.cuda.is_available() and not interpreting(),
        reason="Triton runs compiled here (CUDA is available): its CPU interpreter is off")
    return [pytest.param(backend, d, id=f"{backend}-{d}",
                         marks=[pytest.mark.gpu] if d.startswith("cuda") else [no_interpreter])
            for d in devices]


TARGETS = [p for b in BACKENDS for p in _devices(b)]


# ---------------------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------------------

@dataclass
class Built:
    net: sc.Network
    spikes: dict[str, sc.SpikeMonitor]  # population -> monitor
    states: dict[str, sc.StateMonitor]  # population -> monitor of all its state variables
    coupled: bool  # neurons interact through synapses


# Constant drive for a library model's input ``I``, by the dimension of ``I``: a base
# value, scaled per neuron by a log-uniform factor in [1.5, 10]. Models whose drive this
# does not fit can be listed in _DRIVE_OVERRIDES (name -> base value).
_DRIVE_BY_DIM: list[tuple[Dimension, object]] = [
    (volt.dim, 10 * mV), ((mV / ms).dim, 10 * mV / ms), (nA.dim, 0.5 * nA),
    (Hz.dim, 300 * Hz), (nS.dim, 10 * nS),
]
_DRIVE_OVERRIDES: dict[str, object] = {}
N_LIBRARY = 16


def _drive_base(name: str, model: sc.NeuronModel) -> object | None:
    if name in _DRIVE_OVERRIDES:
        return _DRIVE_OVERRIDES[name]
    eq = model.equations.equations.get("I")
    if eq is None or eq.kind != "param":
        return None
    if eq.dim is None or (eq.dim.is_dimensionless and not model.equations.has_units):
        return 1.0  # a unitless model: its own units
    for dim, base in _DRIVE_BY_DIM:
        if eq.dim == dim:
            return base
    return None


def _state_vars(model: sc.NeuronModel) -> list[str]:
    return [e.name for e in model.equations.diff]


def build_library(name: str, seed: int) -> Built:
    model = sc.library.get(name)
    rng = np.random.default_rng(seed)
    base = _drive_base(name, model)
    params = {}
    if base is not None:
        params["I"] = base * np.exp(rng.uniform(np.log(1.5), np.log(10), N_LIBRARY))
    net = sc.Network(dt=DT_MS * ms, seed=seed)
    with net:
        G = sc.NeuronGroup(N_LIBRARY, model, params=params, name="G")
        sp = sc.SpikeMonitor(G) if model.threshold else None
        st = sc.StateMonitor(G, _state_vars(model))
    return Built(net, {"G": sp} if sp is not None else {}, {"G": st}, coupled=False)


def build_cuba(seed: int) -> Built:
    """Brian2's CUBA benchmark at 500 neurons (same p = 0.02 and weights; with fewer
    inputs per neuron its activity is regular, so spike counts agree closely even after
    a flip: measured within 0.5%; with p = 0.2, 80 + 20 inputs, it bursts and counts
    after a flip differ by up to 16%)."""
    net = sc.Network(dt=DT_MS * ms, seed=seed)
    with net:
        P = sc.NeuronGroup(500, "cuba", init={"v": "Vr + rand()*(Vt - Vr)"}, name="P")
        sc.Connection(P[:400], P, p=0.02, on_pre="ge += we",
                      params={"we": (60 * 0.27 / 10) * mV}, name="Ce")
        sc.Connection(P[400:], P, p=0.02, on_pre="gi += wi",
                      params={"wi": (-20 * 4.5 / 10) * mV}, name="Ci")
        sp = sc.SpikeMonitor(P)
        st = sc.StateMonitor(P, ["v", "ge", "gi"])
    return Built(net, {"P": sp}, {"P": st}, coupled=True)


def build_feedforward(seed: int) -> Built:
    """Poisson spike trains (drawn on the host) -> LIF layer (random weights, random
    per-synapse delays) -> COBA layer (homogeneous delay)."""
    rng = np.random.default_rng(seed)
    n_in, rate = 100, 40.0  # Hz
    n_spikes = rng.poisson(n_in * rate * N_STEPS * DT_MS * 1e-3)
    flat = rng.choice(n_in * N_STEPS, size=n_spikes, replace=False)
    steps, idx = np.divmod(flat, n_in)
    lif = sc.library.get("lif")
    coba = sc.library.get("coba")
    net = sc.Network(dt=DT_MS * ms, seed=seed)
    with net:
        inp = sc.SpikeGeneratorGroup(n_in, idx, steps * DT_MS * ms, name="inp")
        L1 = sc.NeuronGroup(60, lif, params={"I": 12 * mV}, name="L1",
                            init={"v": "El + rand()*(Vt - El)"})
        L2 = sc.NeuronGroup(30, coba, name="L2", init={"v": "El + rand()*(Vt - El)"})
        sc.Connection(inp, L1, on_pre="v += w", weight="rand()*3*mV", p=0.3,
                      delay="(1 + floor(4*rand()))*0.5*ms", name="in_L1")
        sc.Connection(L1, L2, on_pre="ge += 0.8", fan_in=15, delay=1.5 * ms, name="L1_L2")
        sps = {"L1": sc.SpikeMonitor(L1), "L2": sc.SpikeMonitor(L2)}
        sts = {"L1": sc.StateMonitor(L1, _state_vars(lif)),
               "L2": sc.StateMonitor(L2, _state_vars(coba))}
    return Built(net, sps, sts, coupled=True)


CASES: dict[str, Callable[[int], Built]] = {
    **{f"library-{n}": functools.partial(build_library, n) for n in sc.library.names()},
    "net-cuba500": build_cuba,
    "net-feedforward-delays": build_feedforward,
}


# ---------------------------------------------------------------------------------------
# running and comparing
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tolerance:
    rtol: float  # of the variable's scale (largest |x_ref|)
    shift: float  # allowed time shift, in steps, for populations not integrated exactly
    ulps: float  # ulps of the compared dtype, for values near zero
    eps: float  # the compared dtype's machine epsilon


TOLERANCES = {
    torch.float32: Tolerance(rtol=TRACE_RTOL, shift=TRACE_SHIFT, ulps=TRACE_ATOL_ULP,
                             eps=float(np.finfo(np.float32).eps)),
    torch.float64: Tolerance(rtol=TRACE_RTOL_F64, shift=TRACE_SHIFT_F64, ulps=TRACE_ATOL_ULP,
                             eps=float(np.finfo(np.float64).eps)),
}


@dataclass
class Result:
    rasters: dict[str, np.ndarray]  # population -> bool [N_STEPS, N]
    traces: dict[tuple[str, str], np.ndarray]  # (population, var) -> [N, N_STEPS]
    exact: dict[str, bool]  # population -> integrated exactly (linear dynamics)
    coupled: bool


def simulate(case: str, seed: int, backend: str, device: str, dtype: torch.dtype) -> Result:
    built = CASES[case](seed)
    sim = built.net.compile(backend=backend, device=device, dtype=dtype)
    sim.run(N_STEPS * DT_MS * ms)
    rasters = {}
    for pop, mon in built.spikes.items():
        r = np.zeros((N_STEPS, mon.stop - mon.start), dtype=bool)
        steps = np.round(np.asarray(mon.t.value) / (DT_MS * 1e-3)).astype(np.int64)
        r[steps, mon.i] = True
        rasters[pop] = r
    traces = {}
    for pop, mon in built.states.items():
        for var in mon.variables:
            x = getattr(mon, var)
            traces[(pop, var)] = np.asarray(getattr(x, "value", x), dtype=np.float64)
    exact = {name: p.method_used == "exact" for name, p in sim.program.populations.items()}
    return Result(rasters, traces, exact, built.coupled)


@functools.cache
def reference(case: str, seed: int) -> Result:
    return simulate(case, seed, *REFERENCE)


_CASE_SEEDS: dict[str, int] = {}


def case_seed(case: str) -> int:
    """One fresh seed per case and test session, shared by all backends and dtypes (so
    the reference is computed once per case)."""
    if case not in _CASE_SEEDS:
        forced = os.environ.get("SNNCC_TEST_SEED")
        _CASE_SEEDS[case] = (int(forced) if forced
                             else int.from_bytes(os.urandom(4), "little") % 2**31)
    return _CASE_SEEDS[case]


def first_divergence(ref: Result, got: Result) -> dict[str, np.ndarray]:
    """Population -> per neuron, the first step whose spike differs (N_STEPS if none);
    for coupled networks the network-wide first divergence, for every neuron."""
    out = {}
    for pop, r in ref.rasters.items():
        diff = r != got.rasters[pop]
        out[pop] = np.where(diff.any(axis=0), diff.argmax(axis=0), N_STEPS)
    if ref.coupled and out:
        d = min(int(v.min()) for v in out.values())
        out = {pop: np.full_like(v, d) for pop, v in out.items()}
    return out


def local_change(x: np.ndarray) -> np.ndarray:
    """How much ``x`` ([N, steps]) moves in one step around each step: the larger of the
    backward and forward differences."""
    dx = np.abs(np.diff(x, axis=1))
    return np.maximum(np.pad(dx, ((0, 0), (1, 0))), np.pad(dx, ((0, 0), (0, 1))))


def check_equivalent(ref: Result, got: Result, tol: Tolerance = TOLERANCES[torch.float32]
                     ) -> str:
    """Assert the rules of the module docstring; returns a one-line summary."""
    first = first_divergence(ref, got)
    notes = []
    # spikes: rare, local flips only
    for pop, d in first.items():
        r, g = ref.rasters[pop], got.rasters[pop]
        diverged = d < N_STEPS
        if diverged.any():
            d0 = int(d.min())
            flips = int((r[d0] != g[d0]).sum())
            assert flips <= MAX_FLIPS_AT_DIVERGENCE, (
                f"{pop}: {flips} neurons differ at the first divergence step {d0}: not a "
                "rounding flip")
            notes.append(f"{pop}: first divergence at step {d0}")
        if not ref.coupled:
            assert diverged.mean() <= MAX_DIVERGED_FRACTION, (
                f"{pop}: {diverged.sum()} of {diverged.size} independent neurons diverge "
                f"(first at steps {sorted(d[diverged].tolist())[:5]})")
            cr, cg = r.sum(axis=0), g.sum(axis=0)
        else:
            cr, cg = np.array([r.sum()]), np.array([g.sum()])
        bad = np.abs(cg - cr) > COUNT_RTOL * cr + COUNT_SLACK
        assert not bad.any(), (f"{pop}: spike counts {cg[bad].tolist()} vs reference "
                               f"{cr[bad].tolist()}")
    # traces up to (and including) the divergence step
    for (pop, var), x_ref in ref.traces.items():
        x = got.traces[(pop, var)]
        assert x.shape == x_ref.shape == (x_ref.shape[0], N_STEPS), (pop, var, x.shape)
        d = first.get(pop, np.full(x_ref.shape[0], N_STEPS))
        upto = np.arange(N_STEPS)[None, :] <= d[:, None]
        assert np.all(np.isfinite(x_ref[upto])), f"{pop}.{var}: reference is not finite"
        scale = float(np.abs(x_ref).max())
        allowed = tol.rtol * scale + tol.ulps * tol.eps * np.abs(x_ref)
        if not ref.exact.get(pop, False):
            allowed = allowed + tol.shift * local_change(x_ref)
        err = np.where(upto, np.abs(x - x_ref) - allowed, -np.inf)
        err[np.isnan(err)] = np.inf
        if (err > 0).any():
            k, n = np.unravel_index(np.argmax(err), err.shape)
            raise AssertionError(
                f"{pop}.{var}[{k}] differs at step {n} (before any spike divergence): "
                f"{x[k, n]!r} vs reference {x_ref[k, n]!r} (allowed {allowed[k, n]:.3g}, "
                f"scale {scale:.3g})")
        rel = np.abs(x - x_ref)[upto].max() / scale if scale > 0 else 0.0
        notes.append(f"{pop}.{var}: max err/scale {rel:.1e}")
    return "; ".join(notes)


# ---------------------------------------------------------------------------------------
# the suite
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("backend, device", TARGETS)
def test_backend_matches_float64_reference(backend: str, device: str, case: str,
                                           dtype: torch.dtype,
                                           request: pytest.FixtureRequest) -> None:
    if (backend, device, dtype) == REFERENCE:
        pytest.skip("this is the reference")
    fresh_seed = case_seed(case)
    print(f"{request.node.nodeid}: seed = {fresh_seed} "
          f"(rerun with SNNCC_TEST_SEED={fresh_seed})")
    request.node.user_properties.append(("seed", fresh_seed))
    ref = reference(case, fresh_seed)
    got = simulate(case, fresh_seed, backend, device, dtype)
    try:
        summary = check_equivalent(ref, got, TOLERANCES[dtype])
    except AssertionError as exc:
        raise AssertionError(f"{case} on {backend}/{device} ({dtype}): {exc}\nseed = "
                             f"{fresh_seed} (rerun with SNNCC_TEST_SEED={fresh_seed})"
                             ) from None
    print(f"{case} on {backend}/{device} ({dtype}): {summary}")
    # the comparison says little unless the networks are active
    if case.startswith("library-"):
        name = case.removeprefix("library-")
        model = sc.library.get(name)
        if _drive_base(name, model) is not None and model.threshold:
            n = int(ref.rasters["G"][10:].sum())
            assert n >= 2 * N_LIBRARY, (
                f"{name}: only {n} reference spikes after step 10 with the constant drive; "
                "adjust _DRIVE_BY_DIM or add the model to _DRIVE_OVERRIDES")
    else:
        for pop, r in ref.rasters.items():
            assert r[10:].sum() >= 20, f"{case}: population {pop} hardly spikes"


def test_library_is_covered() -> None:
    """Every library model is a case (the list is read from the library itself)."""
    for name in sc.library.names():
        assert f"library-{name}" in CASES


def test_checker_accepts_flips_and_rejects_differences(fresh_seed: int) -> None:
    """The comparison itself: a single flipped spike with diverging traces after it is
    accepted; a wrong trace before any divergence, many simultaneous flips, many
    diverging neurons or a changed spike count are not (so a passing suite means
    something)."""
    import copy

    ref = reference("library-lif", fresh_seed)
    assert ref.exact["G"], "lif is integrated exactly: no time-shift allowance"
    r = ref.rasters["G"]
    assert check_equivalent(ref, copy.deepcopy(ref)).count("err/scale 0.0e+00") == 1

    # one neuron's spike moves one step later; its trace differs from then on: a flip
    k = int(np.argmax(r[20:].sum(axis=0)))
    s0 = 20 + int(np.argmax(r[20:, k]))
    flip = copy.deepcopy(ref)
    flip.rasters["G"][s0, k], flip.rasters["G"][s0 + 1, k] = False, True
    flip.traces[("G", "v")][k, s0 + 1:] += 5e-3
    assert "first divergence at step" in check_equivalent(ref, flip)
    # ... but not if the trace already differed before the flip
    early = copy.deepcopy(flip)
    early.traces[("G", "v")][k, s0 - 3] *= 1 + 1e-3
    with pytest.raises(AssertionError, match="differs at step"):
        check_equivalent(ref, early)

    # a relative error of 1e-3 in a trace, no spike changed
    bad = copy.deepcopy(ref)
    bad.traces[("G", "v")][:, 5:] *= 1 + 1e-3
    with pytest.raises(AssertionError, match="differs"):
        check_equivalent(ref, bad)
    # all spikes of a step lost at once
    n_many = int(np.argmax(r.sum(axis=1)))
    if r[n_many].sum() > MAX_FLIPS_AT_DIVERGENCE:
        bad = copy.deepcopy(ref)
        bad.rasters["G"][n_many] = False
        with pytest.raises(AssertionError, match="not a rounding flip"):
            check_equivalent(ref, bad)
    # no spikes at all: many neurons diverge
    bad = copy.deepcopy(ref)
    bad.rasters["G"][:] = False
    with pytest.raises(AssertionError):
        check_equivalent(ref, bad)
    # every neuron's last spike moved one step (one flip per neuron, at different steps)
    # is more divergence than rounding explains
    bad = copy.deepcopy(ref)
    for kk in range(r.shape[1]):
        steps = np.nonzero(r[:-1, kk])[0]
        if steps.size:
            bad.rasters["G"][steps[-1], kk] = False
            bad.rasters["G"][steps[-1] + 1, kk] = True
    with pytest.raises(AssertionError, match="diverge"):
        check_equivalent(ref, bad)

    # nonlinear population: a sub-step time shift is allowed, a 3-step lag is not
    nl = copy.deepcopy(ref)
    nl.exact["G"] = False
    x = ref.traces[("G", "v")]
    shifted = copy.deepcopy(nl)
    shifted.traces[("G", "v")][:, 1:] = 0.7 * x[:, 1:] + 0.3 * x[:, :-1]
    shifted.traces[("G", "v")][r.T] = x[r.T]  # keep the reset values
    check_equivalent(nl, shifted)
    lag = copy.deepcopy(nl)
    lag.traces[("G", "v")][:, 3:] = x[:, :-3]
    with pytest.raises(AssertionError, match="differs"):
        check_equivalent(nl, lag)
