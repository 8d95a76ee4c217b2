"""Multi-step layers (``snncc.layer``): forward and symbolic backward against an
independent eager reference, gradcheck, the nn.Module API and its errors.

The reference (:func:`reference_run`) reads only the forward part of the layer's step IR
(``update``, ``threshold_arg``, ``strict``, ``reset``, ``unless_refractory``,
``refractory_steps``/``refractory_condition``, ``init``, ``input``): it evaluates those
sympy expressions with its own small torch evaluator (:func:`ev`) and lets torch autograd
differentiate the T-step loop. The spike is a ``torch.autograd.Function`` whose backward is
``surrogates.derivative(name, alpha)`` evaluated at the threshold distance; the reset is
``x' = where(s, R(h), h)`` with ``ds`` flowing through ``R(h) - h`` (cut by
``.detach()`` for ``detach_reset``). It never touches the generated code, the autodiff
pass or the layer's save/recompute plan, so it checks the symbolic backward.

Tolerances (float64 everywhere, layers converted with ``.double()``):

* spikes and the refractory bookkeeping (``_since``/``_notref``): exactly equal;
* final states and every gradient: ``|actual - expected| <= RTOL*|expected| + ATOL_REL *
  max|expected|`` with ``RTOL = 1e-9`` and ``ATOL_REL = 1e-12`` (the atol is relative to
  the largest entry of the tensor, since gradients of volt-valued models span 1e-3 to
  1e8). Observed differences are ~1e-14 of the largest entry: both sides do the same
  float64 arithmetic in a different order.
* ``saved_dtype=torch.bfloat16`` vs float32 (alif): identical spikes, norm-relative
  error of the input gradient < ``BF16_TOL = 0.15`` (observed 0.3-6 %), cosine > 0.99;
* ``torch.compile(backend="aot_eager")`` vs eager (float32): identical spikes, input
  and parameter gradients within rtol 1e-6 (atol 1e-9);
* gradcheck: float64, eps 1e-6, atol 1e-7, rtol 1e-6.

Random inputs come from the ``fresh_seed`` fixture (new on every run, printed on
failure; ``SNNCC_TEST_SEED=<seed>`` reproduces a run). Input and initial-state ranges
are chosen per model so that, in the "spiking" regime, some neurons spike and some do not
(asserted), with dt chosen so that a time-based refractory period is a few steps and
neurons leave it inside the window.

Regression tests for bugs found while writing this file: the refractory mask dropped
by operator precedence in the generated ``_s_b = _sg > 0 & _nr_b``
(:func:`test_refractory_blocks_spikes`) and ``x/y**2`` printed as ``x/y*y``
(:func:`test_other_trainable_gradient`, and hh's whole backward), and the exprel
derivative's series near 0 (:func:`test_exprel_derivative_is_float64_accurate`).
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Callable

import pytest
import sympy
import torch

import snncc
from snncc.errors import ModelError, ParameterError, ShapeError, SnnccError, UnknownNameError
from snncc.ir.functions import clip, exprel, sigmoid
from snncc.ir.layer import LayerStep
from snncc.ir.layer import h as h_name
from snncc.learning import surrogates

F64 = torch.float64
RTOL = 1e-9
ATOL_REL = 1e-12
BF16_TOL = 0.15  # saved_dtype=torch.bfloat16 vs float32: norm-relative gradient error



# ------------------------------------------------------------------ the reference
def _exprel(x: torch.Tensor) -> torch.Tensor:
    """(exp(x) - 1)/x with a Taylor series for |x| < 1e-3 (accurate value and autograd
    derivative in float64)."""
    small = x.abs() < 1e-3
    xs = torch.where(small, torch.ones_like(x), x)
    xt = torch.where(small, x, torch.zeros_like(x))
    series = 1 + xt / 2 + xt**2 / 6 + xt**3 / 24 + xt**4 / 120
    return torch.where(small, series, torch.expm1(xs) / xs)


_FUNCS: dict[type, Callable[..., torch.Tensor]] = {
    sympy.exp: torch.exp, sympy.log: torch.log, sympy.Abs: torch.abs, sympy.sign: torch.sign,
    sympy.erf: torch.erf, sympy.atan: torch.atan, sympy.tanh: torch.tanh,
    sympy.sin: torch.sin, sympy.cos: torch.cos, sympy.sqrt: torch.sqrt,
    sigmoid: torch.sigmoid, exprel: _exprel,
}
_RELATIONS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
              "==": operator.eq, "!=": operator.ne}


def _fold(fn: Callable, e: sympy.Basic, env: dict) -> torch.Tensor:
    out = ev(e.args[0], env)
    for a in e.args[1:]:
        out = fn(out, ev(a, env))
    return out


def ev(e: sympy.Basic, env: dict[str, torch.Tensor]) -> torch.Tensor:
    """A sympy expression evaluated with torch ops (differentiable by autograd);
    ``env`` maps symbol names to tensors."""
    if isinstance(e, sympy.Symbol):
        return env[e.name]
    if e is sympy.true or e is sympy.false:
        return torch.tensor(bool(e))
    if e.is_Number or isinstance(e, sympy.NumberSymbol):
        return torch.tensor(float(e), dtype=F64)
    if isinstance(e, sympy.Add):
        return _fold(operator.add, e, env)
    if isinstance(e, sympy.Mul):
        return _fold(operator.mul, e, env)
    if isinstance(e, sympy.Pow):
        base, ex = e.args
        b = ev(base, env)
        if ex.is_Integer:
            return b ** int(ex)
        return b ** ev(ex, env)
    if isinstance(e, sympy.Piecewise):
        out = ev(e.args[-1].expr, env)
        for expr, cond in reversed(e.args[:-1]):
            out = torch.where(ev(cond, env), ev(expr, env), out)
        return out
    if isinstance(e, sympy.core.relational.Relational):
        return _RELATIONS[e.rel_op](ev(e.lhs, env), ev(e.rhs, env))
    if isinstance(e, sympy.And):
        return _fold(operator.and_, e, env)
    if isinstance(e, sympy.Or):
        return _fold(operator.or_, e, env)
    if isinstance(e, sympy.Not):
        return ~ev(e.args[0], env)
    if isinstance(e, sympy.Min):
        return _fold(torch.minimum, e, env)
    if isinstance(e, sympy.Max):
        return _fold(torch.maximum, e, env)
    if isinstance(e, clip):
        x, lo, hi = (ev(a, env) for a in e.args)
        return torch.minimum(torch.maximum(x, lo), hi)
    fn = _FUNCS.get(type(e))
    if fn is None:
        raise NotImplementedError(f"reference evaluator: no torch op for {type(e).__name__} "
                                  f"in {e}")
    return fn(*(ev(a, env) for a in e.args))


class _Spike(torch.autograd.Function):
    """``H(g) * nr`` forward; ``S'(g) * nr`` (the surrogate) backward."""

    @staticmethod
    def forward(ctx, g, nr, strict, dsur):  # noqa: ANN001, ANN205
        ctx.save_for_backward(g, nr)
        ctx.dsur = dsur
        fire = (g > 0) if strict else (g >= 0)
        return fire.to(g.dtype) * nr

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        g, nr = ctx.saved_tensors
        return grad * ctx.dsur(g) * nr, None, None, None


def surrogate_fn(name: str, alpha: float) -> Callable[[torch.Tensor], torch.Tensor]:
    d = surrogates.derivative(name, alpha)
    return lambda g: ev(d, {surrogates.X.name: g}) + torch.zeros_like(g)


def reference_run(step: LayerStep, x: torch.Tensor, state: dict[str, torch.Tensor],
                  tensors: dict[str, torch.Tensor], surrogate: str, alpha: float,
                  detach_reset: bool, trace: list | None = None
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The layer's T-step loop in eager torch (see module docstring). ``x`` is
    ``[T, B, N]``; ``state`` maps every state (and optionally ``_since``/``_notref``) to
    ``[B, N]``; ``tensors`` maps the layer's tensor parameters to ``[1]`` or ``[N]``.
    ``trace`` (a list) receives the threshold distance of every step."""
    dsur = surrogate_fn(surrogate, alpha)
    shape = x.shape[1:]
    cur = {k: state[k] if k in state else torch.full(shape, v, dtype=F64)
           for k, v in step.init.items()}
    K = step.refractory_steps
    since = state.get("_since", torch.full(shape, float(K or 0), dtype=F64))
    notref = state.get("_notref", torch.ones(shape, dtype=F64))
    spikes = []
    for t in range(x.shape[0]):
        env = {**tensors, step.input: x[t], **cur}
        if K is not None:  # a neuron that spiked at step n is blocked at n+1 .. n+K-1
            since = torch.clamp(since + 1, max=float(K))
            nr = since >= K
        elif step.refractory_condition is not None:
            # Brian2: released once the condition is false on the state at the step start
            cond = ev(step.refractory_condition, env)
            notref = torch.where(cond, notref, torch.ones_like(notref))
            nr = notref > 0.5
        else:
            nr = torch.ones(shape, dtype=torch.bool)
        for st in step.update:
            value = ev(st.expr, env)
            env[st.target] = env[st.target] + value if st.op == "+=" else value
        for k in step.unless_refractory:  # held while refractory (plus a jump input)
            env[h_name(k)] = torch.where(nr, env[h_name(k)], ev(step.held(k), env) + 0 * cur[k])
        g = ev(step.threshold_arg, env) + torch.zeros(shape, dtype=F64)
        if trace is not None:
            trace.append(g.detach())
        s = _Spike.apply(g, nr.to(F64), step.strict, dsur)
        fired = s.detach() > 0.5
        sr = s.detach() if detach_reset else s
        new = {}
        for k in step.states:
            hk = env[h_name(k)]
            if k in step.reset:
                r = ev(step.reset[k], env)
                # value where(s, R, h); gradient d/ds = R - h, d/dh = 1 - s, d/dR = s
                new[k] = torch.where(fired, r, hk) + (sr - sr.detach()) * (r - hk)
            else:
                new[k] = hk
        cur = new
        since = torch.where(fired, torch.zeros_like(since), since)
        notref = torch.where(fired, torch.zeros_like(notref), notref)
        spikes.append(s)
    final = dict(cur)
    if K is not None:
        final["_since"] = since
    elif step.refractory_condition is not None:
        final["_notref"] = notref
    return torch.stack(spikes), final


# ------------------------------------------------------------------ the model table
def _cond_refractory_model() -> snncc.NeuronModel:
    """Condition-based refractoriness (Brian2 semantics): refractory while w > 0.5; w
    jumps at a spike and decays, v is held while refractory."""
    return snncc.NeuronModel(
        """
        dv/dt = (I - v)/tau : 1 (unless refractory)
        dw/dt = -w/tau_w : 1
        I : 1
        """,
        threshold="v > theta", reset="v = v_r\nw += 1", refractory="w > 0.5",
        params={"tau": 2.0, "tau_w": 2.0, "theta": 1.0, "v_r": 0.1}, name="cond_refractory")


@dataclasses.dataclass(frozen=True)
class Case:
    """How to drive one model: layer options, the trainable parameter, ranges of the
    initial states and of the input, and the regime (spiking or subthreshold)."""

    model: str | Callable[[], snncc.NeuronModel]
    dt: float
    alpha: float  # per model unit of the threshold distance (volts for most)
    trainable: str
    kind: str  # "shared" or "neuron"
    states: dict[str, tuple[float, float]]
    inp: tuple[float, float]
    T: int = 12
    regime: str = "spiking"
    options: dict = dataclasses.field(default_factory=dict)
    rtol: float = RTOL
    atol_rel: float = ATOL_REL


mV, nA = 1e-3, 1e-9
# dt in ms for the library models (one model unit for the unitless custom ones); initial
# states partly above threshold, with a random refractory counter, so that some neurons
# start refractory above threshold (their spike must be masked)
CASES: dict[str, Case] = {
    "lif": Case("lif", 0.5, 200.0, "tau", "neuron", {"v": (-70 * mV, -50 * mV)},
                (0.0, 100 * mV)),
    "lif_soft": Case("lif_soft", 0.5, 200.0, "Vt", "shared", {"v": (-75 * mV, -50 * mV)},
                     (0.0, 100 * mV)),
    "lif_current": Case("lif_current", 0.5, 200.0, "El", "neuron",
                        {"v": (-70 * mV, -50 * mV)}, (0.0, 8 * nA)),
    # cuba has no input parameter: the input drives its state ge (added each step)
    "cuba": Case("cuba", 1.0, 200.0, "Vt", "neuron",
                 {"v": (-60 * mV, -45 * mV), "ge": (0.0, 5 * mV), "gi": (-5 * mV, 0.0)},
                 (0.0, 20 * mV), options={"input": "ge"}),
    "alif": Case("alif", 0.5, 200.0, "beta", "shared",
                 {"v": (-70 * mV, -45 * mV), "a": (0.0, 2.0)}, (0.0, 200 * mV)),
    "clif": Case("clif", 0.5, 5.0, "v_th", "neuron",
                 {"M": (0.0, 3.0), "S": (0.0, 1.5), "E": (0.0, 1.0)}, (0.0, 6000.0)),
    "coba": Case("coba", 1.0, 200.0, "Ee", "shared",
                 {"v": (-60 * mV, -47 * mV), "ge": (0.0, 0.5), "gi": (0.0, 0.5)},
                 (0.0, 80 * mV)),
    "eif": Case("eif", 0.5, 200.0, "VT", "neuron", {"v": (-68 * mV, -28 * mV)},
                (0.0, 60 * mV)),
    "hh": Case("hh", 0.01, 200.0, "g_na", "shared",
               {"v": (-65 * mV, -40 * mV), "m": (0.0, 0.05), "n": (0.0, 0.5),
                "h": (0.0, 1.0), "ge": (0.0, 10e-9), "gi": (0.0, 10e-9)},
               (0.0, 0.1 * nA), regime="subthreshold"),
    "izhikevich": Case("izhikevich", 0.1, 200.0, "d", "neuron",
                       {"v": (-70 * mV, 28 * mV), "u": (-16.0, -8.0)}, (0.0, 20.0)),
    "adex": Case("adex", 0.1, 200.0, "b", "shared",
                 {"v": (-58 * mV, -38 * mV), "w": (0.0, 0.2 * nA)}, (0.0, 5 * nA)),
    "qif": Case("qif", 0.5, 200.0, "Vr", "neuron", {"v": (-70 * mV, 35 * mV)},
                (0.0, 60 * mV)),
    "cond_refractory": Case(_cond_refractory_model, 1.0, 4.0, "theta", "shared",
                            {"v": (0.0, 1.2), "w": (0.0, 1.5)}, (0.0, 3.0)),
    "state_input": Case("dv/dt = -v/tau : 1", 1.0, 4.0, "theta", "neuron",
                        {"v": (0.0, 1.2)}, (0.0, 0.8),
                        options={"input": "v", "threshold": "v > theta",
                                 "reset": "v -= theta",
                                 "params": {"tau": 5.0, "theta": 1.0}}),
}


def build(case: Case, surrogate: str, detach_reset: bool, N: int,
          trainable: str | None = None, **extra: object) -> snncc.Layer:
    """The float64 torch-backend layer of ``case``."""
    name = trainable or case.trainable
    options = {"dt": case.dt, "alpha": case.alpha, "surrogate": surrogate,
               "detach_reset": detach_reset, "backend": "torch", "size": N,
               "trainable": {name: case.kind}, **case.options, **extra}
    model = case.model() if callable(case.model) else case.model
    return snncc.layer(model, **options).double()


def draw(case: Case, step: LayerStep, gen: torch.Generator, T: int, B: int, N: int
         ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A random input ``[T, B, N]`` and initial state (with a random refractory
    counter) in the ranges of ``case``."""
    def uniform(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(*shape, generator=gen, dtype=F64)

    x = uniform(*case.inp, T, B, N)
    state = {k: uniform(*case.states[k], B, N) if k in case.states
             else torch.full((B, N), v, dtype=F64) for k, v in step.init.items()}
    if step.refractory_steps is not None:
        K = step.refractory_steps
        state["_since"] = torch.randint(0, K + 1, (B, N), generator=gen).to(F64)
    elif step.refractory_condition is not None:
        state["_notref"] = torch.randint(0, 2, (B, N), generator=gen).to(F64)
    return x, state


def assert_close(actual: torch.Tensor, expected: torch.Tensor, what: str,
                 rtol: float = RTOL, atol_rel: float = ATOL_REL) -> None:
    actual, expected = actual.detach(), expected.detach()
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    atol = atol_rel * float(expected.abs().max()) + 1e-300
    err = (actual - expected).abs()
    bad = err > atol + rtol * expected.abs()
    if bool(bad.any()):
        i = int(bad.reshape(-1).nonzero()[0])
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {bad.numel()} entries differ; first at flat index "
            f"{i}: actual {actual.reshape(-1)[i].item()!r}, expected "
            f"{expected.reshape(-1)[i].item()!r}; max |diff| {err.max().item():.3e}, "
            f"max |expected| {expected.abs().max().item():.3e}")


def compare_with_reference(case: Case, surrogate: str, detach_reset: bool, seed: int,
                           trainable: str | None = None, B: int = 2, N: int = 4,
                           state_fn: Callable | None = None, grads: bool = True
                           ) -> dict[str, float]:
    """Run layer and reference on the same random data; compare spikes, final state and
    (``grads``) the gradients of a random linear loss of spikes and final state w.r.t.
    input, initial state and the trainable parameter. Returns spike statistics."""
    gen = torch.Generator().manual_seed(seed)
    L = build(case, surrogate, detach_reset, N, trainable)
    step = L.step_ir
    name = trainable or case.trainable
    x, state = draw(case, step, gen, case.T, B, N)
    if state_fn is not None:
        state_fn(x, state)
    x.requires_grad_(True)
    for k in step.states:
        state[k].requires_grad_(True)
    w_s = torch.randn(x.shape, generator=gen, dtype=F64)
    w_x = {k: torch.randn(B, N, generator=gen, dtype=F64) for k in step.states}
    p = getattr(L, name)
    assert isinstance(p, torch.nn.Parameter) and p.dtype == F64
    assert p.shape == ((N,) if case.kind == "neuron" else (1,))

    def loss_of(spikes: torch.Tensor, final: dict[str, torch.Tensor]) -> torch.Tensor:
        return (spikes * w_s).sum() + sum((final[k] * w_x[k]).sum() for k in step.states)

    spikes, final = L.run(x, state)
    p_ref = p.detach().clone().requires_grad_(True)
    tensors = {k: getattr(L, k).detach() for k in step.tensors}
    tensors[name] = p_ref
    ref_spikes, ref_final = reference_run(step, x, state, tensors, surrogate,
                                          case.alpha, detach_reset)

    assert spikes.dtype == F64 and spikes.shape == x.shape
    if not torch.equal(spikes, ref_spikes):
        t, b, n = (spikes != ref_spikes).nonzero()[0].tolist()
        raise AssertionError(f"spikes differ first at step {t}, sample {b}, neuron {n}: "
                             f"layer {spikes[:, b, n].tolist()} vs reference "
                             f"{ref_spikes[:, b, n].tolist()}")
    for k in ("_since", "_notref"):
        if k in ref_final:
            assert torch.equal(final[k], ref_final[k]), f"final {k} differs"
    for k in step.states:
        assert_close(final[k], ref_final[k], f"final state {k}", rtol=case.rtol,
                     atol_rel=case.atol_rel)
    if grads:
        inputs = [x, *(state[k] for k in step.states), p]
        got = torch.autograd.grad(loss_of(spikes, final), inputs)
        want = torch.autograd.grad(loss_of(ref_spikes, ref_final), [*inputs[:-1], p_ref])
        what = ["input", *(f"initial {k}" for k in step.states), f"trainable {name}"]
        for g, r, w in zip(got, want, what):
            assert_close(g, r, f"gradient w.r.t. {w}", rtol=case.rtol,
                         atol_rel=case.atol_rel)
    return {"spikes": float(spikes.detach().sum()), "entries": spikes.numel()}


# ------------------------------------------------------------------ 1-2: the matrix
def _matrix() -> list:
    params = []
    for model in CASES:
        for sur in surrogates.names():
            # a model without reset has nothing to detach
            for det in ((False,) if model == "hh" else (False, True)):
                params.append(pytest.param(model, sur, det, id=f"{model}-{sur}-"
                                           f"{'detach' if det else 'reset_grad'}"))
    return params


@pytest.mark.parametrize("model,surrogate,detach_reset", _matrix())
def test_layer_matches_reference(model: str, surrogate: str, detach_reset: bool,
                                 fresh_seed: int) -> None:
    case = CASES[model]
    stats = compare_with_reference(case, surrogate, detach_reset, fresh_seed)
    if case.regime == "spiking":
        assert 0 < stats["spikes"] < stats["entries"], \
            f"{model}: input ranges should make some but not all neurons spike: {stats}"
    else:
        assert stats["spikes"] == 0, f"{model}: the subthreshold regime spiked: {stats}"


def test_matrix_covers_library() -> None:
    assert set(snncc.library.names()) <= set(CASES)


OTHER_TRAINABLE = [("lif", "Vr"), ("lif_current", "C"), ("alif", "tau_m"), ("clif", "tau_p"),
                   ("coba", "taum"), ("eif", "DeltaT"), ("hh", "Cm"), ("adex", "tauw"),
                   ("qif", "k"), ("izhikevich", "a")]


@pytest.mark.parametrize("model,param", OTHER_TRAINABLE,
                         ids=[f"{m}-{p}" for m, p in OTHER_TRAINABLE])
def test_other_trainable_gradient(model: str, param: str, fresh_seed: int) -> None:
    """More trainable parameters, mostly in a denominator (time constants, capacitance,
    slope factor): regression test for ``x/y**2`` printed as ``x/y*y`` by the torch
    printer (``(y*y)`` now), which made every such gradient wrong."""
    compare_with_reference(CASES[model], "sigmoid", False, fresh_seed, trainable=param)


@pytest.mark.parametrize("model", ["lif", "hh"])
def test_refractory_blocks_spikes(model: str, fresh_seed: int) -> None:
    """Regression test for the generated ``_s_b = _sg > 0 & _nr_b`` (parsed as
    ``_sg > (0 & _nr_b)``, dropping the refractory mask): lif started refractory above
    threshold; hh, whose v is not held, above -20 mV for many steps must spike once."""
    case = CASES[model]

    def above_threshold(x: torch.Tensor, state: dict) -> None:
        state["v"][0, :2] = -15 * mV  # above both thresholds
        state["_since"][0, 0] = 1.0  # refractory for the first steps
        state["_since"][0, 1] = 1e6  # free (clamped to K): one spike, then blocked

    stats = compare_with_reference(case, "sigmoid", False, fresh_seed,
                                   state_fn=above_threshold)
    assert stats["spikes"] > 0


def test_exprel_derivative_is_float64_accurate() -> None:
    L = snncc.layer("dv/dt = exprel(v) - v/tau + I : 1", threshold="v > 10", reset="v = 0",
                    params={"tau": 2.0}, method="euler", backend="torch").double()
    v0 = torch.full((1, 1), 0.095, dtype=F64, requires_grad=True)
    x = torch.zeros(1, 1, 1, dtype=F64)
    _, final = L.run(x, {"v": v0})
    (g,) = torch.autograd.grad(final["v"].sum(), v0)
    # euler, dt = 1: d/dv [v + exprel(v) - v/tau] = 1 - 1/2 + exprel'(v)
    exact = 0.5 + (math.exp(0.095) * 0.095 - math.expm1(0.095)) / 0.095**2
    assert g.item() == pytest.approx(exact, rel=1e-12, abs=0)


@pytest.mark.parametrize("op,fires", [(">=", True), (">", False)])
def test_threshold_tie(op: str, fires: bool) -> None:
    """A threshold distance of exactly 0 spikes for '>=' only (random data never ties, so
    the matrix cannot tell the two apart). Input drives the state: v -> v + x."""
    L = snncc.layer("dv/dt = 0 : 1", input="v", threshold=f"v {op} 1", reset="v = 0",
                    backend="torch").double()
    assert L.step_ir.strict is not fires
    x = torch.tensor([0.25, 0.25, 0.5, 0.5], dtype=F64).reshape(4, 1, 1)
    spikes, final = L.run(x, {"v": torch.full((1, 1), 0.5, dtype=F64)})
    ref, ref_final = reference_run(L.step_ir, x, {"v": torch.full((1, 1), 0.5, dtype=F64)},
                                   {}, "sigmoid", 4.0, False)
    # v: 0.75, 1.0 (tie), then 0 + 0.5, 1.0 (tie) for '>='; 1.5 at step 2 for '>'
    assert spikes.flatten().tolist() == ([0.0, 1.0, 0.0, 1.0] if fires else
                                         [0.0, 0.0, 1.0, 0.0])
    assert torch.equal(spikes, ref) and torch.equal(final["v"], ref_final["v"])


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_a_jump_input_still_lands_while_refractory(backend: str) -> None:
    """With ``input="v"`` (the input jumps v, as a synaptic ``v += w`` does), a clamped v
    still takes the input while refractory -- Brian2's semantics, and what a network
    trained as layers must reproduce. lif at dt = 0.5 ms: 30 mV fires it at step 0, the
    2 ms refractory period blocks steps 1-3, whose 1 mV each add up on v = Vr."""
    if backend == "triton":
        pytest.importorskip("triton")
    L = snncc.layer("lif", input="v", dt=0.5, backend=backend).double()
    assert L.step_ir.refractory_steps == 4
    x = torch.tensor([30.0, 1.0, 1.0, 1.0], dtype=F64).mul(mV).reshape(4, 1, 1)
    x.requires_grad_(True)
    spikes, final = L.run(x)
    assert spikes.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]
    assert final["v"].item() == pytest.approx(-67 * mV, abs=1e-15)
    (g,) = torch.autograd.grad(final["v"].sum(), x)
    assert g.flatten()[1:].tolist() == [1.0, 1.0, 1.0]  # held: v + x, d/dx = 1


# ------------------------------------------------------------------ 3: gradcheck
class _Run(torch.nn.Module):
    """``layer.run`` as a module, so ``functional_call`` can swap the parameter."""

    def __init__(self, layer: snncc.Layer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor, state: dict) -> tuple:  # noqa: D102
        return self.layer.run(x, state)


def _gradcheck(case: Case, surrogate: str, detach_reset: bool, seed: int, with_spikes: bool,
               accept: Callable[[torch.Tensor, list], bool], T: int = 8, B: int = 2,
               N: int = 3) -> None:
    L = build(case, surrogate, detach_reset, N)
    step, name = L.step_ir, case.trainable
    gen = torch.Generator().manual_seed(seed)
    for _ in range(200):  # draw until the data is in the wanted regime
        x, state = draw(case, step, gen, T, B, N)
        trace: list = []
        tensors = {k: getattr(L, k).detach() for k in step.tensors}
        spikes, _ = reference_run(step, x, state, tensors, surrogate, case.alpha,
                                  detach_reset, trace=trace)
        if accept(spikes, trace):
            break
    else:
        pytest.fail("no random draw in the wanted regime")
    run = _Run(L)
    aux = {k: v for k, v in state.items() if k.startswith("_")}

    def f(x: torch.Tensor, p: torch.Tensor, *init: torch.Tensor) -> tuple:
        s, final = torch.func.functional_call(
            run, {f"layer.{name}": p}, (x, {**dict(zip(step.states, init)), **aux}))
        outs = tuple(final[k] for k in step.states)
        return (s, *outs) if with_spikes else outs

    p = getattr(L, name).detach().clone().requires_grad_(True)
    args = (x.requires_grad_(True), p,
            *(state[k].clone().requires_grad_(True) for k in step.states))
    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-7, rtol=1e-6)


SUBTHRESHOLD = {
    "eif": dataclasses.replace(CASES["eif"], trainable="DeltaT", states={"v": (-70 * mV,
                               -62 * mV)}, inp=(0.0, 5 * mV)),
    "coba": dataclasses.replace(CASES["coba"], trainable="taum", states={
        "v": (-62 * mV, -56 * mV), "ge": (0.0, 0.5), "gi": (0.0, 0.5)}, inp=(0.0, 5 * mV)),
    "izhikevich": dataclasses.replace(CASES["izhikevich"], trainable="a", states={
        "v": (-70 * mV, -60 * mV), "u": (-14.0, -12.0)}, inp=(0.0, 5.0)),
}


@pytest.mark.parametrize("model", list(SUBTHRESHOLD))
def test_gradcheck_subthreshold(model: str, fresh_seed: int) -> None:
    """No spike anywhere, so every output is a smooth function of input, initial state
    and parameter. The spikes themselves are left out and the reset detached: with a
    smooth surrogate, S'(g) != 0 even far below threshold, so the surrogate gradient of
    the spikes (and of the reset, x' = h + s (R - h)) is a deliberate non-derivative
    that finite differences (which see a constant 0 spike) cannot reproduce."""
    _gradcheck(SUBTHRESHOLD[model], "sigmoid", True, fresh_seed, with_spikes=False,
               accept=lambda s, trace: not bool(s.any()))


GRADCHECK_SPIKING = {
    "lif_soft": dataclasses.replace(CASES["lif_soft"], alpha=1e6),
    "alif": dataclasses.replace(CASES["alif"], alpha=1e6),
    "izhikevich": dataclasses.replace(CASES["izhikevich"], alpha=1e6),
    "cond_refractory": dataclasses.replace(CASES["cond_refractory"], alpha=1e6),
}


@pytest.mark.parametrize("model", list(GRADCHECK_SPIKING))
def test_gradcheck_spiking(model: str, fresh_seed: int) -> None:
    """The spiking regime: with the rectangle surrogate of width 1/alpha = 1e-6 (model
    units) and no threshold distance within 1e-4 of 0, S'(g) = 0 at every step, so the
    surrogate contributes nothing and the analytic gradient must equal the derivative
    with the spike pattern held fixed, which is what finite differences measure as long
    as no spike flips (eps = 1e-6 moves g by far less than the margin). Spikes and final
    state are outputs; the reset is not detached, so the switch between R(h) and h (and
    the refractory hold) is checked here too. With a wider surrogate the spike and reset
    gradients are surrogate values, not derivatives, and gradcheck cannot apply."""
    case = GRADCHECK_SPIKING[model]
    margin = 1e-4

    def accept(s: torch.Tensor, trace: list) -> bool:
        return bool(s.any()) and min(float(g.abs().min()) for g in trace) > margin

    _gradcheck(case, "rectangle", False, fresh_seed, with_spikes=True, accept=accept)


# ------------------------------------------------------------------ 4: the nn.Module API
UNITLESS_LIF = "dv/dt = (I - v)/tau : 1"
LIF_OPTIONS = {"threshold": "v > 1", "reset": "v = 0", "params": {"tau": 2.0}}


def _toy_data(gen: torch.Generator, T: int = 8, B: int = 32, D: int = 10
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes, each a fixed random input pattern (scaled by class) plus noise."""
    protos = torch.rand(2, D, generator=gen) * 2
    y = torch.randint(0, 2, (B,), generator=gen)
    x = protos[y] + 0.3 * torch.randn(T, B, D, generator=gen)
    return x, y


def test_sequential_trains_on_toy_task(fresh_seed: int) -> None:
    gen = torch.Generator().manual_seed(fresh_seed)
    torch.manual_seed(fresh_seed)
    model = torch.nn.Sequential(
        snncc.SeqToANN(torch.nn.Linear(10, 16)),
        snncc.layer(UNITLESS_LIF, **LIF_OPTIONS, surrogate="fast_sigmoid",
                    trainable={"tau": "neuron"}, size=16),
        snncc.SeqToANN(torch.nn.Linear(16, 2)),
    )
    x, y = _toy_data(gen)
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x).mean(0), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert model[1].tau.grad is not None and model[1].tau.grad.shape == (16,)
    assert min(losses[-5:]) < 0.7 * losses[0], losses


def _compile_model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    linear = torch.nn.Linear(6, 5)
    with torch.no_grad():  # a positive drive of ~0.15 V: alif spikes within a few steps
        linear.weight.uniform_(0.0, 0.1)
        linear.bias.zero_()
    return torch.nn.Sequential(
        snncc.SeqToANN(linear),
        snncc.layer("alif", dt=0.5, alpha=200.0, trainable=("beta",), backend="torch"),
    )


def test_torch_compile_matches_eager(fresh_seed: int) -> None:
    torch._dynamo.reset()
    eager, compiled = _compile_model(fresh_seed), _compile_model(fresh_seed)
    gen = torch.Generator().manual_seed(fresh_seed)
    x = torch.rand(10, 3, 6, generator=gen)
    xe, xc = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    fn = torch.compile(compiled, backend="aot_eager", fullgraph=True)
    out_e, out_c = eager(xe), fn(xc)
    assert 0 < out_e.sum() < out_e.numel()
    torch.testing.assert_close(out_c, out_e, rtol=0, atol=0)
    w = torch.randn(out_e.shape, generator=gen)
    (out_e * w).sum().backward()
    (out_c * w).sum().backward()
    torch.testing.assert_close(xc.grad, xe.grad, rtol=1e-6, atol=1e-9)
    for (name, pe), pc in zip(eager.named_parameters(), compiled.parameters()):
        assert pe.grad is not None, name
        torch.testing.assert_close(pc.grad, pe.grad, rtol=1e-6, atol=1e-9, msg=name)


def test_stateful_carries_and_reset_clears(fresh_seed: int) -> None:
    gen = torch.Generator().manual_seed(fresh_seed)
    kw = {**LIF_OPTIONS, "backend": "torch"}
    L = snncc.layer(UNITLESS_LIF, stateful=True, **kw)
    ref = snncc.layer(UNITLESS_LIF, **kw)
    x = 3 * torch.rand(12, 2, 5, generator=gen)
    assert L.state is None
    first, second = L(x[:6]), L(x[6:])
    whole, final = ref.run(x)
    assert torch.equal(torch.cat([first, second]), whole)
    torch.testing.assert_close(L.state["v"], final["v"], rtol=0, atol=0)
    assert not L.state["v"].requires_grad
    L.reset()
    assert L.state is None
    torch.testing.assert_close(L(x[6:]), ref(x[6:]), rtol=0, atol=0)
    assert ref.state is None  # a stateless layer keeps nothing
    # a new batch shape starts afresh
    x3 = 3 * torch.rand(4, 3, 5, generator=gen)
    torch.testing.assert_close(L(x3), ref(x3), rtol=0, atol=0)
    assert L.state["v"].shape == (3, 5)


def test_saved_bfloat16_gradients_close_to_float32(fresh_seed: int) -> None:
    gen = torch.Generator().manual_seed(fresh_seed)
    case = CASES["alif"]
    grads = {}
    x0 = None
    for dtype in (torch.float32, torch.bfloat16):
        L = snncc.layer("alif", dt=case.dt, alpha=case.alpha, backend="torch",
                        saved_dtype=dtype, trainable=("beta",))
        if x0 is None:
            x0 = draw(case, L.step_ir, gen, 12, 4, 8)[0].float()
        x = x0.clone().requires_grad_(True)
        spikes = L(x)
        (spikes * torch.linspace(-1, 1, 12)[:, None, None]).sum().backward()
        grads[dtype] = (spikes.detach(), x.grad, L.beta.grad)
    (s32, gx32, gb32), (s16, gx16, gb16) = grads[torch.float32], grads[torch.bfloat16]
    assert torch.equal(s32, s16)  # the forward runs in float32 either way
    assert s32.sum() > 0
    # bfloat16 keeps ~3 significant digits of what the backward reads (h_v in volts, the
    # threshold distance): observed norm-relative errors are 0.3-6 %
    assert (gx16 - gx32).norm() <= BF16_TOL * gx32.norm()
    assert torch.nn.functional.cosine_similarity(gx16.flatten(), gx32.flatten(), 0) > 0.99
    assert (gb16 - gb32).abs() <= BF16_TOL * gb32.abs() + 1e-3 * gx32.abs().max()


def test_per_neuron_trainable_shape_and_gradient(fresh_seed: int) -> None:
    gen = torch.Generator().manual_seed(fresh_seed)
    L = snncc.layer(UNITLESS_LIF, **LIF_OPTIONS, size=(2, 3), backend="torch",
                    trainable={"tau": "neuron"}, surrogate="atan")
    assert isinstance(L.tau, torch.nn.Parameter) and L.tau.shape == (6,)
    assert [n for n, _ in L.named_parameters()] == ["tau"]
    x = 3 * torch.rand(10, 4, 2, 3, generator=gen)
    spikes = L(x)
    assert spikes.shape == x.shape and spikes.dtype == x.dtype
    spikes.sum().backward()
    assert L.tau.grad.shape == (6,) and bool((L.tau.grad != 0).all())
    # a shared trainable is one value
    S = snncc.layer(UNITLESS_LIF, **LIF_OPTIONS, trainable=("tau",))
    assert S.tau.shape == (1,)


@pytest.mark.parametrize("learner,surrogate", sorted(surrogates.LEARNERS.items()))
def test_spaic_learner_names(learner: str, surrogate: str, fresh_seed: int) -> None:
    gen = torch.Generator().manual_seed(fresh_seed)
    x = 3 * torch.rand(8, 2, 4, generator=gen, dtype=F64)
    grads = []
    for name in (learner, learner.lower(), surrogate):
        L = snncc.layer(UNITLESS_LIF, **LIF_OPTIONS, surrogate=name, backend="torch")
        assert L.step_ir.surrogate == surrogate
        assert surrogate in L.describe()
        xr = x.clone().requires_grad_(True)
        (L(xr) * torch.arange(8.0, dtype=F64)[:, None, None]).sum().backward()
        grads.append(xr.grad)
    assert torch.equal(grads[0], grads[2]) and torch.equal(grads[1], grads[2])


def test_describe_and_source() -> None:
    L = snncc.layer("alif", dt=0.5, alpha=200.0, surrogate="gaussian", detach_reset=True,
                    backend="torch", trainable=("beta",))
    text = L.describe()
    assert "plan:" in text and L.step_ir.plan in text
    assert L.step_ir.plan.split(":")[0] in ("store", "recompute")
    assert "alif" in text and "gaussian" in text and "reset detached" in text
    assert "beta (shared, trainable)" in text
    src = L.source()
    for line in ("dv/dt = (El - v + I)/tau_m : volt (unless refractory)",
                 "da/dt = -a/tau_a : 1"):
        assert f"#   {line}" in src, line
    assert "# threshold: v > Vt + beta*a" in src and "# reset: v = Vr; a += 1" in src
    assert f"# plan: {L.step_ir.plan}" in src
    custom = snncc.layer(UNITLESS_LIF, **LIF_OPTIONS).source()
    assert f"#   {UNITLESS_LIF}\n" in custom and "# threshold: v > 1" in custom
    assert "def forward(" in src and "def backward(" in src
    compile(src, "<layer>", "exec")


def test_forward_is_run_and_float32_default(fresh_seed: int) -> None:
    gen = torch.Generator().manual_seed(fresh_seed)
    L = snncc.layer(UNITLESS_LIF, **LIF_OPTIONS)
    x = 3 * torch.rand(6, 2, 3, generator=gen)
    spikes, final = L.run(x)
    assert torch.equal(L(x), spikes) and spikes.dtype == torch.float32
    assert set(final) == {"v"} and final["v"].shape == (2, 3)
    with torch.no_grad():
        assert torch.equal(L(x), spikes)


# ------------------------------------------------------------------ surrogates
@pytest.mark.parametrize("name", surrogates.names())
def test_surrogate_derivative_is_the_primitive_slope(name: str) -> None:
    """The reference trusts ``surrogates.derivative``: check it against central
    differences and the integral of the primitive, its total (1, or alpha for the
    triangle) and that it is non-negative."""
    alpha = 3.0
    prim = sympy.lambdify(surrogates.X, surrogates.primitive(name, alpha),
                          [{"sigmoid": lambda x: 0.5 + 0.5 * math.tanh(x / 2)}, "math"])
    d = surrogate_fn(name, alpha)
    xs = torch.linspace(-2.0, 2.0, 4001, dtype=F64)
    dx = float(xs[1] - xs[0])
    dvals = d(xs)
    assert bool((dvals >= 0).all())
    total = float(torch.trapezoid(dvals, dx=dx))
    # the rectangle's jumps cost the trapezoid rule O(alpha * dx)
    assert total == pytest.approx(prim(2.0) - prim(-2.0), abs=5e-3 if name == "rectangle"
                                  else 1e-5)
    S = surrogates.primitive(name, alpha)
    far = float((S.subs(surrogates.X, 1e12) - S.subs(surrogates.X, -1e12)).evalf(30))
    assert far == pytest.approx(alpha if name == "triangle" else 1.0, rel=1e-9)
    h = 1e-6
    for x in (-1.3, -0.4, -0.1, 0.05, 0.2, 0.7, 1.6):  # away from kinks
        fd = (prim(x + h) - prim(x - h)) / (2 * h)
        got = float(d(torch.tensor([x], dtype=F64)))
        assert got == pytest.approx(fd, rel=1e-6, abs=1e-8), (name, x)
    assert surrogates.resolve(name) == name


# ------------------------------------------------------------------ 5: errors
def _raises(exc: type[SnnccError], *words: str) -> pytest.RaisesContext:
    """``pytest.raises`` of ``exc`` whose message contains ``words`` in order."""
    return pytest.raises(exc, match="(?s)" + ".*".join(map(re.escape, words)))


def test_error_unknown_surrogate() -> None:
    with _raises(ParameterError, "unknown surrogate", "'tanh'", "sigmoid", "STCA"):
        snncc.layer("lif", surrogate="tanh")


@pytest.mark.parametrize("alpha", [0.0, -1.0, float("inf"), float("nan"), "sharp"])
def test_error_bad_alpha(alpha: object) -> None:
    with _raises(ParameterError, "alpha", "positive"):
        snncc.layer("lif", alpha=alpha)


def test_error_unknown_input_name() -> None:
    with _raises(UnknownNameError, "'J'", "does not declare", "v"):
        snncc.layer("lif", input="J")


def test_error_input_is_subexpression() -> None:
    with _raises(ModelError, "'V'", "subexpression"):
        snncc.layer("clif", input="V")


def test_error_unknown_trainable() -> None:
    with _raises(UnknownNameError, "'taux'", "not a parameter", "tau"):
        snncc.layer("lif", trainable=("taux",))


def test_error_bad_trainable_kind() -> None:
    with _raises(ParameterError, "'tau'", "'shared' or 'neuron'"):
        snncc.layer("lif", trainable={"tau": "channel"}, size=3)


def test_error_per_neuron_trainable_without_size() -> None:
    with _raises(ShapeError, "'tau'", "per neuron", "size="):
        snncc.layer("lif", trainable={"tau": "neuron"})


def test_error_input_shape_vs_size() -> None:
    L = snncc.layer(UNITLESS_LIF, **LIF_OPTIONS, size=(2, 3))
    with _raises(ShapeError, "neuron shape (6,)", "size=(2, 3)"):
        L(torch.rand(4, 2, 6))
    with _raises(ShapeError, "[T, batch"):
        L(torch.rand(6))
    P = snncc.layer(UNITLESS_LIF, **LIF_OPTIONS, trainable={"tau": "neuron"}, size=4)
    with _raises(ShapeError, "size=(4,)"):
        P(torch.rand(3, 2, 5))


def test_error_non_float_input() -> None:
    L = snncc.layer(UNITLESS_LIF, **LIF_OPTIONS)
    with _raises(ShapeError, "float", "torch.int64"):
        L(torch.ones(4, 2, 3, dtype=torch.int64))
    with _raises(ShapeError, "tensor", "list"):
        L([[0.0]])


def test_error_unknown_state_in_run() -> None:
    L = snncc.layer(UNITLESS_LIF, **LIF_OPTIONS)
    with _raises(ParameterError, "unknown state", "'w'", "v"):
        L.run(torch.rand(4, 2, 3), {"w": torch.zeros(2, 3)})
    with _raises(ShapeError, "state 'v'", "6"):
        L.run(torch.rand(4, 2, 3), {"v": torch.zeros(2, 4)})


@pytest.mark.parametrize("threshold", ["v > 1 and v < 3", "v == 1"])  # "v": test_bad_inputs
def test_error_threshold_not_one_comparison(threshold: str) -> None:
    with _raises(ModelError, "one comparison", "v > Vt"):
        snncc.layer(UNITLESS_LIF, threshold=threshold, reset="v = 0", params={"tau": 2.0})


def test_error_model_with_noise() -> None:
    with _raises(ModelError, "random", "noise", "not supported in a layer"):
        snncc.layer("dv/dt = (I - v)/tau + sigma*xi/sqrt(tau) : 1", threshold="v > 1",
                    reset="v = 0", params={"tau": 2.0, "sigma": 0.1})


def test_error_unknown_backend() -> None:
    with _raises(ParameterError, "unknown backend", "'cuda'", "available: torch"):
        snncc.layer("lif", backend="cuda")


def test_error_bad_saved_dtype() -> None:
    with _raises(ParameterError, "saved_dtype"):
        snncc.layer("lif", saved_dtype=torch.int8)


def test_errors_are_snncc_errors() -> None:
    for exc in (ParameterError, ShapeError, ModelError, UnknownNameError):
        assert issubclass(exc, SnnccError)
