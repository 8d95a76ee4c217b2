"""The hand-written Triton primitives and the Triton printer, tested kernel by kernel.

* ``snncc.kernels.smath``: every helper runs inside a small test kernel over inputs that
  cover 0, tiny, moderate, large and random values, in float32 and float64, against torch's
  float64 functions (the reference is exact to well below one ulp of float32, and within an
  ulp of float64).
* ``snncc.kernels.rng``: counter-based draws are reproducible, independent across streams,
  steps and seeds, and have the right distribution (statistical bounds of 6 standard errors).
* ``snncc.kernels.spikes``: ``compact`` equals ``flags.nonzero()``.
* ``snncc.backends.triton.printer``: printed expressions, pasted into generated kernels, give
  ``sympy.lambdify``'s values in float64.

Inputs are fresh random numbers (the ``fresh_seed`` fixture prints the seed). Without CUDA the
kernels run in Triton's CPU interpreter; each test kernel below is defined once per module.
"""

from __future__ import annotations

import importlib.util
import math
import uuid
from collections.abc import Callable
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy
import torch

from snncc.backends.triton.printer import TritonPrinter
from snncc.ir.functions import clip, exprel, rand, randn

try:
    from snncc.kernels import import_triton

    triton = import_triton()  # first: turns the interpreter on where CUDA is unavailable
    from snncc.kernels import rng as _r
    from snncc.kernels import smath as _m
    from snncc.kernels import spikes as _s
    from snncc.kernels.spikes import compact
except ImportError:  # pragma: no cover - triton is in the test extra
    pytest.skip("triton is not installed", allow_module_level=True)

tl = triton.language

# NaN/inf inputs make numpy (the interpreter's arithmetic) warn; the values are checked.
pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DTYPES = {"float32": torch.float32, "float64": torch.float64}

# ---------------------------------------------------------------------------------------
# Tolerances
# ---------------------------------------------------------------------------------------

#: smath helpers: allowed relative error in units of the dtype's machine epsilon. Each
#: helper is a few core ops (exp, log, sqrt, sin, cos: <= ~2 ulps each) combined without
#: cancellation, so a few ulps; 8 leaves headroom (measured: <= 4 in float32 and float64).
ULPS = 8
#: ... plus an absolute floor of ULPS times the smallest normal number (for results that are
#: 0 or underflow, e.g. acos(1) = 0 or pow(1e-3, 50) in float32).
TINY = {dt: torch.finfo(dt).tiny for dt in (torch.float32, torch.float64)}
#: pow(b, e) = exp(e*log|b|): the rounding of e*log|b| (relative eps) is an absolute error
#: of |e*log b|*eps in the exponent, i.e. |e*log b| ulps of the result; allowed:
#: (POW_ULPS + POW_ULPS_PER_LOG*|e*log b|) ulps (measured: <= 1.5*(1 + |e log b|)).
POW_ULPS = 8
POW_ULPS_PER_LOG = 2
#: floormod(a, b) = a - b*floor(a/b): b*floor(a/b) is rounded at the scale of |a|, so the
#: error is absolute: MOD_ULPS*eps*(|a| + |b|) (measured: <= 0.5).
MOD_ULPS = 4
#: printer tests (float64): a printed expression is a few core ops / smath helpers, each
#: a few ulps (~1e-15 each); expressions through pow get the pow allowance above (|e*log b|
#: is <= ~30 on the inputs used); Mod is absolute (|x|, |y| <= 3).
PRINT_RTOL = 1e-14
PRINT_POW_RTOL = 1e-13
PRINT_MOD_ATOL = 1e-13
#: statistical checks: deviations from the expected value within this many standard errors
#: (a false failure has probability ~1e-9 per check).
N_SE = 6.0


def _block(n: int) -> int:
    return max(16, triton.next_power_of_2(n))


def _eps(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps


def _check_close(what: str, x: torch.Tensor, got: torch.Tensor, ref: torch.Tensor,
                 tol: torch.Tensor, y: torch.Tensor | None = None) -> None:
    """``got`` (in the test dtype) against the float64 reference ``ref`` of the inputs ``x``
    (and ``y``): NaN where the reference is NaN, the reference rounded to the dtype where
    that is infinite (overflow), else within ``tol`` (absolute, float64)."""
    got64 = got.double().cpu()
    ref = ref.cpu()
    ref_d = ref.to(got.dtype).double()  # correctly rounded: inf past overflow
    err = (got64 - ref).abs()
    ok = torch.where(torch.isnan(ref), torch.isnan(got64),
                     torch.where(torch.isinf(ref_d), got64 == ref_d, err <= tol.cpu()))
    if bool(ok.all()):
        return
    bad = (~ok).nonzero().squeeze(1)
    score = torch.where(torch.isfinite(err[bad]), err[bad] / tol.cpu()[bad], torch.inf)
    worst = bad[torch.argsort(score.nan_to_num(torch.inf), descending=True)[:8]]
    xs = x.double().cpu().tolist()
    ys = None if y is None else y.double().cpu().tolist()
    lines = [f"  x={xs[i]!r}{'' if ys is None else f', y={ys[i]!r}'}: got {got64[i].item()!r}, "
             f"expected {ref[i].item()!r} (error {err[i].item():.3g}, allowed "
             f"{tol.cpu()[i].item():.3g})" for i in worst.tolist()]
    raise AssertionError(f"{what}: {bad.numel()} of {ok.numel()} values wrong; worst:\n"
                         + "\n".join(lines))


# ---------------------------------------------------------------------------------------
# smath: one-argument helpers
# ---------------------------------------------------------------------------------------


@triton.jit
def _unary_kernel(x_ptr, out_ptr, n, FN: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.5)
    if FN == "expm1":
        y = _m.expm1(x)
    elif FN == "log1p":
        y = _m.log1p(x)
    elif FN == "exprel":
        y = _m.exprel(x)
    elif FN == "sign":
        y = _m.sign(x)
    elif FN == "tanh":
        y = _m.tanh(x)
    elif FN == "sinh":
        y = _m.sinh(x)
    elif FN == "cosh":
        y = _m.cosh(x)
    elif FN == "tan":
        y = _m.tan(x)
    elif FN == "atan":
        y = _m.atan(x)
    elif FN == "asin":
        y = _m.asin(x)
    else:
        y = _m.acos(x)
    tl.store(out_ptr + offs, y, mask=mask)


def _unary(fn: str, x: torch.Tensor) -> torch.Tensor:
    x = x.to(DEVICE)
    out = torch.empty_like(x)
    n = x.numel()
    _unary_kernel[(1,)](x, out, n, FN=fn, BLOCK=_block(n))
    return out


def _exprel_ref(x: torch.Tensor) -> torch.Tensor:
    safe = torch.where(x == 0, torch.ones_like(x), x)
    return torch.where(x == 0, torch.ones_like(x), torch.expm1(x) / safe)


UNARY_REFS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "expm1": torch.expm1, "log1p": torch.log1p, "exprel": _exprel_ref, "sign": torch.sign,
    "tanh": torch.tanh, "sinh": torch.sinh, "cosh": torch.cosh, "tan": torch.tan,
    "atan": torch.atan, "asin": torch.asin, "acos": torch.acos,
}

#: largest |x| (rounded down) with exp(|x|) finite in the dtype: sinh, cosh and exprel are
#: tested up to it here, and past it in test_sinh_overflows_to_inf and test_near_overflow_threshold.
EXP_LIMIT = {torch.float32: 88.0, torch.float64: 709.0}
SPECIAL = [0.0, 1e-12, -1e-9, 1e-30, -1e-30, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, 10.0, -10.0,
           30.0, -30.0]
INF = math.inf


def _logu(rng: np.random.Generator, lo: float, hi: float, size: int,
          signed: bool = True) -> np.ndarray:
    """Magnitudes log-uniform in [10**lo, 10**hi], random signs."""
    mag = 10.0 ** rng.uniform(lo, hi, size)
    return mag * rng.choice([-1.0, 1.0], size) if signed else mag


def _unary_inputs(fn: str, dtype: torch.dtype, rng: np.random.Generator) -> torch.Tensor:
    lim = EXP_LIMIT[dtype]
    big = [700.0, -700.0]  # float32: past exp's range (expm1: inf and -1; tanh: +-1; ...)
    if fn in ("expm1", "tanh"):
        parts = [SPECIAL, big, [88.0, -88.0, INF, -INF], _logu(rng, -12, 2.9, 2000),
                 rng.uniform(-5, 5, 1000)]
    elif fn == "log1p":
        parts = [[v for v in SPECIAL if v > -1], [-0.999, -1.0, -2.0, 1e10, 1e30, INF],
                 _logu(rng, -12, 3, 1500, signed=False), -_logu(rng, -12, -1e-3, 1000, False),
                 -1.0 + _logu(rng, -6, -1, 300, signed=False)]
    elif fn in ("exprel", "sinh", "cosh"):
        parts = [SPECIAL, [0.0, 0.0, lim, -lim, 80.0, -80.0],
                 _logu(rng, -12, math.log10(lim), 2000), rng.uniform(-5, 5, 1000)]
    elif fn == "sign":
        parts = [SPECIAL, [INF, -INF, -0.0], _logu(rng, -30, 30, 1000)]
    elif fn == "tan":
        parts = [SPECIAL, big, rng.uniform(-10, 10, 2000), _logu(rng, -12, 0, 500)]
    elif fn == "atan":
        parts = [SPECIAL, big, [1e30, -1e30, INF, -INF], _logu(rng, -12, 6, 2000)]
    elif fn == "asin":
        # |x| in (0.99, 1) is the subject of test_asin_near_one
        parts = [[0.0, 1e-12, -1e-9, 1e-30, 0.5, -0.5, 0.99, -0.99, 1.0, -1.0, 1.5, -1.5,
                  30.0, -30.0],
                 rng.uniform(-0.99, 0.99, 2000), _logu(rng, -12, -1, 500)]
    else:  # acos
        near1 = 1.0 - _logu(rng, -12, -1, 500, signed=False)
        parts = [[0.0, 1e-12, -1e-9, 0.5, -0.5, 1.0, -1.0, 1 - 1e-6, -1 + 1e-6, 1 - 1e-12,
                  -1 + 1e-12, 1.5, -1.5, 30.0, -30.0],
                 rng.uniform(-1, 1, 2000), near1, -near1]
    x = np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])
    return torch.from_numpy(x).to(dtype)


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
@pytest.mark.parametrize("fn", list(UNARY_REFS))
def test_smath_unary_accuracy(fn: str, dtype: str, fresh_seed: int) -> None:
    dt = DTYPES[dtype]
    x = _unary_inputs(fn, dt, np.random.default_rng(fresh_seed))
    got = _unary(fn, x)
    assert got.dtype == dt
    ref = UNARY_REFS[fn](x.double())
    ulps = 0 if fn == "sign" else ULPS  # sign is exact
    tol = ulps * _eps(dt) * ref.abs().nan_to_num(posinf=0.0) + ulps * TINY[dt]
    _check_close(f"smath.{fn} ({dtype})", x, got, ref, tol)
    if fn == "exprel":
        assert (got.cpu()[x == 0] == 1.0).all(), "exprel(0) must be exactly 1"


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
def test_exprel_of_zero_is_exactly_one(dtype: str) -> None:
    dt = DTYPES[dtype]
    got = _unary("exprel", torch.tensor([0.0, -0.0, 1e-300 if dt == torch.float64 else 1e-40],
                                        dtype=dt))
    assert got.cpu().tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
def test_sinh_overflows_to_inf(dtype: str) -> None:
    dt = DTYPES[dtype]
    x = torch.tensor([100.0, -100.0, 1000.0, -1000.0, INF, -INF], dtype=dt)
    if dt == torch.float64:
        x[:2] = torch.tensor([711.0, -711.0])
    got = _unary("sinh", x).cpu()
    assert got.tolist() == torch.sinh(x.double()).to(dt).tolist() == [INF, -INF] * 3


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
def test_near_overflow_threshold(dtype: str) -> None:
    dt = DTYPES[dtype]
    x = torch.tensor([89.0] if dt == torch.float32 else [710.0], dtype=dt)
    mp_refs = {"sinh": mpmath.sinh, "cosh": mpmath.cosh,
               "exprel": lambda v: mpmath.expm1(v) / v}  # torch's float64 would overflow
    failures = []
    for fn, mp_fn in mp_refs.items():
        xs = x + 1 if fn == "exprel" else x
        with mpmath.workdps(30):
            ref = torch.tensor([float(mp_fn(mpmath.mpf(v))) for v in xs.tolist()],
                               dtype=torch.float64)
        assert torch.isfinite(ref.to(dt)).all()
        try:
            _check_close(f"smath.{fn} ({dtype})", xs, _unary(fn, xs), ref,
                         ULPS * _eps(dt) * ref.abs())
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


def test_asin_near_one(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    near1 = np.concatenate([[0.999999, 1 - 7.450637329320386e-09, 1 - 1e-8, 1 - 1e-10],
                            1.0 - _logu(rng, -12, -4, 500, signed=False)])
    x = torch.from_numpy(np.concatenate([near1, -near1]))
    ref = torch.asin(x)
    _check_close("smath.asin (float64)", x, _unary("asin", x), ref,
                 ULPS * _eps(torch.float64) * ref.abs())


# ---------------------------------------------------------------------------------------
# smath: floormod and pow
# ---------------------------------------------------------------------------------------


@triton.jit
def _binary_kernel(a_ptr, b_ptr, out_ptr, n, FN: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    a = tl.load(a_ptr + offs, mask=mask, other=1.0)
    b = tl.load(b_ptr + offs, mask=mask, other=1.0)
    if FN == "floormod":
        y = _m.floormod(a, b)
    else:
        y = _m.pow(a, b)
    tl.store(out_ptr + offs, y, mask=mask)


def _binary(fn: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a.to(DEVICE), b.to(DEVICE)
    out = torch.empty_like(a)
    n = a.numel()
    _binary_kernel[(1,)](a, b, out, n, FN=fn, BLOCK=_block(n))
    return out


def _pairs(special: list[tuple[float, float]], a: np.ndarray, b: np.ndarray,
           dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    sa, sb = (np.asarray(v, dtype=np.float64) for v in zip(*special))
    return (torch.from_numpy(np.concatenate([sa, a])).to(dtype),
            torch.from_numpy(np.concatenate([sb, b])).to(dtype))


MOD_SPECIAL = [(0.0, 3.0), (6.0, 3.0), (-6.0, 3.0), (7.0, 3.0), (-7.0, 3.0), (7.0, -3.0),
               (-7.0, -3.0), (5.5, 2.0), (-5.5, 2.0), (1e-12, 1.0), (-1e-9, 1.0),
               (1e-12, -1.0), (3.0, 0.0), (0.0, 0.0)]


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
def test_smath_floormod(dtype: str, fresh_seed: int) -> None:
    dt = DTYPES[dtype]
    rng = np.random.default_rng(fresh_seed)
    a, b = _pairs(MOD_SPECIAL, _logu(rng, -3, 3, 3000), _logu(rng, -2, 1, 3000), dt)
    got = _binary("floormod", a, b).double().cpu()
    a64, b64 = a.double(), b.double()
    ref = torch.remainder(a64, b64)
    tol = MOD_ULPS * _eps(dt) * (a64.abs() + b64.abs())
    # where a/b is within rounding of an integer, floor(a/b) may be off by one: the result
    # then lies on the other side of the period (~0 instead of ~b); accept that there (the
    # sign it gives is test_floormod_has_the_sign_of_b's subject)
    d = (got - ref).abs()
    wrapped = ((d - b64.abs()).abs() <= tol) & (torch.minimum(ref.abs(), (b64 - ref).abs())
                                                <= tol)
    got = torch.where(wrapped, ref, got)
    _check_close(f"smath.floormod ({dtype}), x = a, y = b", a, got.to(dt), ref, tol, y=b)


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
def test_floormod_has_the_sign_of_b(dtype: str) -> None:
    dt = DTYPES[dtype]
    pairs = ([(1.7, 0.1), (3.4, 0.2), (6.3, 2.1), (-1.7, -0.1)] if dt == torch.float64
             else [(0.9, 0.1), (3.3, 1.1), (1.8, 0.2), (-0.9, -0.1)])
    a = torch.tensor([p[0] for p in pairs], dtype=dt)
    b = torch.tensor([p[1] for p in pairs], dtype=dt)
    got = _binary("floormod", a, b).cpu()
    ref = torch.remainder(a.double(), b.double())
    in_range = bool(((got * b >= 0) & (got.abs() <= b.abs())).all())
    assert in_range, f"floormod{list(zip(a.tolist(), b.tolist()))} = {got.tolist()}"
    _check_close(f"smath.floormod ({dtype}), x = a, y = b", a, got, ref,
                 MOD_ULPS * _eps(dt) * (a.double().abs() + b.double().abs()), y=b)


POW_SPECIAL = [(2.0, 10.0), (2.0, -2.0), (0.0, 2.0), (0.0, -1.0), (0.0, 0.5), (-2.0, 3.0),
               (-2.0, -3.0), (-2.0, 2.0), (-2.0, 0.0), (-0.5, 0.5), (-8.0, 1 / 3), (-1.0, 2.5),
               (1.0, 1e10), (4.0, 0.5), (10.0, -2.0), (3.0, 0.0), (-1.0, 1e15 + 1),
               (10.0, 50.0), (1e-3, 50.0), (-10.0, 41.0), (INF, 2.0), (INF, -1.0)]


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
def test_smath_pow(dtype: str, fresh_seed: int) -> None:
    dt = DTYPES[dtype]
    rng = np.random.default_rng(fresh_seed)
    n = 4000
    e = rng.uniform(-10, 10, n)
    e = np.where(rng.uniform(size=n) < 0.4, np.round(e), e)  # integer exponents too
    base, ex = _pairs(POW_SPECIAL, _logu(rng, -3, 3, n), e, dt)
    got = _binary("pow", base, ex)
    b64, e64 = base.double(), ex.double()
    ref = torch.pow(b64, e64)
    # negative bases: a real power for integer exponents, NaN else
    neg = b64 < 0
    assert torch.isnan(ref[neg]).eq(e64[neg] != e64[neg].floor()).all()
    cond = torch.where((b64 == 0) | torch.isinf(b64), 0.0, (e64 * b64.abs().log()).abs())
    tol = (_eps(dt) * (POW_ULPS + POW_ULPS_PER_LOG * cond) * ref.abs().nan_to_num(posinf=0.0)
           + ULPS * TINY[dt])
    _check_close(f"smath.pow ({dtype}), x = base, y = exponent", base, got, ref, tol, y=ex)


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
def test_pow_of_zero_exponent_is_one(dtype: str) -> None:
    dt = DTYPES[dtype]
    b = torch.tensor([0.0, INF, -INF, math.nan, 2.0], dtype=dt)
    got = _binary("pow", b, torch.zeros_like(b)).cpu()
    assert torch.pow(b, 0.0).tolist() == [1.0] * 5
    assert got.tolist() == [1.0] * 5, f"pow({b.tolist()}, 0) = {got.tolist()}"


# ---------------------------------------------------------------------------------------
# rng
# ---------------------------------------------------------------------------------------


@triton.jit
def _draw_kernel(out_ptr, seed, stream, n, lanes, KIND: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < lanes
    if KIND == "normal":
        v = _r.normal(seed, stream, n, offs, lanes)
    else:
        v = _r.uniform(seed, stream, n, offs, lanes)
    tl.store(out_ptr + offs, v, mask=mask)


def _draw(kind: str, seed: int, stream: int, n: int, lanes: int,
          block: int = 16384) -> torch.Tensor:
    """One draw for every lane (float64 output: the values are stored as drawn)."""
    out = torch.empty(lanes, dtype=torch.float64, device=DEVICE)
    _draw_kernel[(triton.cdiv(lanes, block),)](out, seed, stream, n, lanes, KIND=kind,
                                               BLOCK=block)
    return out.cpu()


def _seed_stream_step(fresh_seed: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(fresh_seed)
    return (int(rng.integers(0, 2**31 - 1)), int(rng.integers(0, 1000)),
            int(rng.integers(0, 10**6)))


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_rng_reproducible(kind: str, fresh_seed: int) -> None:
    seed, stream, n = _seed_stream_step(fresh_seed)
    lanes = 5000
    first = _draw(kind, seed, stream, n, lanes)
    assert torch.equal(first, _draw(kind, seed, stream, n, lanes))
    # the numbers belong to the lanes, not to the launch's blocks
    assert torch.equal(first, _draw(kind, seed, stream, n, lanes, block=512))


@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_rng_streams_steps_and_seeds_are_independent(kind: str, fresh_seed: int) -> None:
    seed, stream, n = _seed_stream_step(fresh_seed)
    lanes = 2**16
    base = _draw(kind, seed, stream, n, lanes)
    others = {
        "next stream": _draw(kind, seed, stream + 1, n, lanes),
        "next step": _draw(kind, seed, stream, n + 1, lanes),
        "next seed": _draw(kind, seed + 1, stream, n, lanes),
        # counter n*lanes + lane one 2**32 further: same low word, so this checks that the
        # high word counts (no repeats after 2**32 draws of one site)
        "step + 2**32/lanes": _draw(kind, seed, stream, n + 2**32 // lanes, lanes),
    }
    bound = N_SE / math.sqrt(lanes)
    for what, other in others.items():
        same = (other == base).double().mean().item()
        assert same < 1e-3, f"{kind}, {what}: {same:.2%} of the lanes repeat the base draw"
        c = _corr(base, other)
        assert abs(c) < bound, f"{kind}, {what}: correlation {c:.4f} (bound {bound:.4f})"
    c = _corr(base[:-1], base[1:])
    assert abs(c) < bound, f"{kind}: neighbouring lanes correlate: {c:.4f}"


def test_uniform_distribution(fresh_seed: int) -> None:
    seed, stream, n = _seed_stream_step(fresh_seed)
    lanes = 100_000
    u = _draw("uniform", seed, stream, n, lanes)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert torch.equal(u, u.float().double()), "draws are float32 numbers"
    mean, var = u.mean().item(), u.var().item()
    assert abs(mean - 0.5) < N_SE * math.sqrt(1 / 12 / lanes), mean
    # Var((u - 1/2)**2) = 1/80 - 1/144 = 1/180
    assert abs(var - 1 / 12) < N_SE * math.sqrt(1 / 180 / lanes), var
    bins = 16
    counts = torch.histc(u, bins=bins, min=0.0, max=1.0)
    expected = lanes / bins
    se = math.sqrt(lanes * (1 / bins) * (1 - 1 / bins))
    assert ((counts - expected).abs() < N_SE * se).all(), counts.tolist()


def test_normal_distribution(fresh_seed: int) -> None:
    seed, stream, n = _seed_stream_step(fresh_seed)
    lanes = 100_000
    z = _draw("normal", seed, stream, n, lanes)
    assert torch.isfinite(z).all()
    mean, var = z.mean().item(), z.var().item()
    assert abs(mean) < N_SE / math.sqrt(lanes), mean
    assert abs(var - 1) < N_SE * math.sqrt(2 / lanes), var  # Var(z**2) = 2
    for c in (-2.0, -1.0, 0.0, 1.0, 2.0):
        p = 0.5 * (1 + math.erf(c / math.sqrt(2)))
        frac = (z < c).double().mean().item()
        assert abs(frac - p) < N_SE * math.sqrt(p * (1 - p) / lanes), (c, frac, p)


def _bernoulli(p: torch.Tensor, seed: int, stream: int, n: int, block: int) -> torch.Tensor:
    lanes = p.numel()
    out = torch.empty(lanes, dtype=torch.int8, device=DEVICE)
    _r.bernoulli_kernel[(triton.cdiv(lanes, block),)](out, p, seed, stream, n, lanes,
                                                      BLOCK=block)
    return out.cpu()


def test_bernoulli_kernel(fresh_seed: int) -> None:
    seed, stream, n0 = _seed_stream_step(fresh_seed)
    rng = np.random.default_rng(fresh_seed + 1)
    lanes, steps = 512, 200
    p = np.concatenate([[0.0, 1.0, 0.0, 1.0], rng.uniform(0.1, 0.9, lanes - 4)])
    p_t = torch.tensor(p, dtype=torch.float32, device=DEVICE)
    # one step: uniform(...) < p, whatever the block size (several programs, a masked tail)
    first = _bernoulli(p_t, seed, stream, n0, block=lanes)
    u = _draw("uniform", seed, stream, n0, lanes)
    assert torch.equal(first, (u < p_t.double().cpu()).to(torch.int8))
    assert torch.equal(first, _bernoulli(p_t, seed, stream, n0, block=128))
    assert torch.equal(_bernoulli(p_t[:-5], seed, stream, n0, block=128),
                       _bernoulli(p_t[:-5], seed, stream, n0, block=512))
    counts = first.double()
    for k in range(1, steps):
        counts += _bernoulli(p_t, seed, stream, n0 + k, block=lanes).double()
    p64 = p_t.double().cpu()
    assert counts[p64 == 0].eq(0).all() and counts[p64 == 1].eq(steps).all()
    mean, sd = steps * p64, (steps * p64 * (1 - p64)).sqrt()
    dev = (counts - mean).abs()
    bad = (dev > N_SE * sd + 1).nonzero().squeeze(1)  # +1: counts are integers
    assert bad.numel() == 0, [(p64[i].item(), counts[i].item()) for i in bad[:5].tolist()]
    z = (counts - mean).sum() / sd.pow(2).sum().sqrt()
    assert abs(z.item()) < N_SE, f"total spikes off by {z.item():.2f} standard errors"


# ---------------------------------------------------------------------------------------
# compact
# ---------------------------------------------------------------------------------------


def _flags(n: int, density: float, rng: np.random.Generator) -> torch.Tensor:
    """int8 flags, non-zero (any non-zero byte) with probability ``density``."""
    values = rng.choice(np.array([-128, -3, 1, 7, 127], dtype=np.int8), n)
    flags = np.where(rng.uniform(size=n) < density, values, 0).astype(np.int8)
    return torch.from_numpy(flags).to(DEVICE)


@pytest.mark.parametrize("density", [0.0, 0.01, 0.5, 1.0])
@pytest.mark.parametrize("n", [0, 1, 1000, 1024, 1025, 5000])
def test_compact(n: int, density: float, fresh_seed: int) -> None:
    flags = _flags(n, density, np.random.default_rng(fresh_seed))
    got = compact(flags)
    assert got.dtype == torch.int64
    assert torch.equal(got.cpu(), flags.cpu().nonzero().squeeze(1))


@pytest.mark.parametrize("n", [1, 1000, 1025, 3000])
def test_compact_bool_and_small_blocks(n: int, fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    flags = _flags(n, 0.3, rng) != 0
    expected = flags.cpu().nonzero().squeeze(1)
    assert torch.equal(compact(flags).cpu(), expected)
    # many programs finishing in any order: the result is still sorted
    assert torch.equal(compact(flags.to(torch.int8), block=64).cpu(), expected)


@triton.jit
def _ring_kernel(hist_ptr, out_ptr, steps, L, lanes, delay, BLOCK: tl.constexpr):
    """Record row k of ``out`` (the raster) as the spikes of step k, for k < steps, and
    after each step read the spikes of step k - delay into row k of ``out`` + steps."""
    lane = tl.arange(0, BLOCK)
    mask = lane < lanes
    for k in range(0, steps):
        spk = tl.load(out_ptr + k * lanes + lane, mask=mask, other=0) != 0
        _s.record(hist_ptr, k, L, lanes, lane, spk, mask)
        got = _s.delayed(hist_ptr, k, delay, L, lanes, lane)
        tl.store(out_ptr + (steps + k) * lanes + lane, got.to(tl.int8), mask=mask)


@pytest.mark.parametrize("delay, L", [(0, 1), (0, 4), (3, 4), (5, 6), (1, 9)])
def test_history_ring_delays_spikes(delay: int, L: int, fresh_seed: int) -> None:
    """The history ring returns the spikes of step n - delay at step n (none before step
    delay), for a ring just long enough and for a longer one."""
    rng = np.random.default_rng(fresh_seed)
    steps, lanes = 25, 37
    raster = (rng.uniform(size=(steps, lanes)) < 0.3).astype(np.int8)
    out = torch.zeros((2 * steps, lanes), dtype=torch.int8, device=DEVICE)
    out[:steps] = torch.from_numpy(raster)
    hist = torch.zeros((L, lanes), dtype=torch.int8, device=DEVICE)
    _ring_kernel[(1,)](hist, out, steps, L, lanes, delay, BLOCK=64)
    expected = np.zeros_like(raster)
    expected[delay:] = raster[:steps - delay]
    np.testing.assert_array_equal(out[steps:].cpu().numpy(), expected)


def test_compact_strided_input(fresh_seed: int) -> None:
    flags = _flags(4000, 0.5, np.random.default_rng(fresh_seed))
    flags[0::2] = 0
    flags[1::2] = 1
    view = flags[0::2]  # all zeros; the first 2000 bytes of its storage are not
    assert not view.is_contiguous()
    assert compact(view).numel() == 0
    view_b = (flags != 0)[1::2]  # all true
    assert torch.equal(compact(view_b).cpu(), torch.arange(2000))


# ---------------------------------------------------------------------------------------
# printer
# ---------------------------------------------------------------------------------------

X = sympy.Symbol("x", real=True)
Y = sympy.Symbol("y", real=True)

_KERNEL_SOURCE = '''\
from snncc.kernels import import_triton

triton = import_triton()
import triton.language as tl  # noqa: E402

from snncc.kernels import rng as _r  # noqa: E402,F401
from snncc.kernels import smath as _m  # noqa: E402,F401


@triton.jit
def kernel(x_ptr, y_ptr, out_ptr, n, seed, DT: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=1.0)
    y = tl.load(y_ptr + offs, mask=mask, other=1.0)
    value = {code}
    tl.store(out_ptr + offs, value.to(tl.float64) + tl.zeros_like(x), mask=mask)
'''


def _run_printed(code: str, x: np.ndarray, y: np.ndarray, tmp_path: Path,
                 seed: int = 0) -> np.ndarray:
    """Paste ``code`` (a Triton expression of x and y) into a generated kernel (a module
    file, so that Triton can read its source) and run it on float64 inputs."""
    name = f"_printed_{uuid.uuid4().hex}"
    path = tmp_path / f"{name}.py"
    path.write_text(_KERNEL_SOURCE.format(code=code))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    xt = torch.from_numpy(x).to(DEVICE)
    yt = torch.from_numpy(y).to(DEVICE)
    out = torch.empty_like(xt)
    n = x.size
    # like every generated kernel, it gets the simulation dtype as DT (printed code may
    # use it for numbers that must be blocks of that dtype)
    module.kernel[(1,)](xt, yt, out, n, seed, DT=tl.float64, BLOCK=_block(n))
    return out.cpu().numpy()


def _np_exprel(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.where(v == 0, 1.0, np.expm1(v) / np.where(v == 0, 1.0, v))


_LAMBDIFY_MODULES = [{"clip": np.clip, "exprel": _np_exprel, "erf": np.vectorize(math.erf)},
                     "numpy"]

#: input domains: name -> (rng, size) -> float64 values
DOMAINS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "real": lambda rng, n: rng.uniform(0.05, 3.0, n) * rng.choice([-1.0, 1.0], n),
    "real0": lambda rng, n: np.where(rng.uniform(size=n) < 0.1, 0.0,
                                     rng.uniform(-3.0, 3.0, n)),
    "pos": lambda rng, n: rng.uniform(0.05, 3.0, n),
    "unit": lambda rng, n: rng.uniform(-0.99, 0.99, n),
    "halfpi": lambda rng, n: rng.uniform(-1.4, 1.4, n),
    "base": lambda rng, n: rng.uniform(2.0, 5.0, n),
}

#: (id, expression, domain of x, domain of y, tolerance kind)
PRINT_CASES: list[tuple[str, sympy.Basic, str, str, str]] = [
    ("square", X**2, "real", "real", "rel"),
    ("cube_times", X**3 * Y, "real", "real", "rel"),
    ("inverse", 1 / X, "real", "real", "rel"),
    ("inverse_square", X**-2, "real", "real", "rel"),
    ("sqrt_pow", X**sympy.Rational(1, 2), "pos", "real", "rel"),
    ("rsqrt", X**sympy.Rational(-1, 2), "pos", "real", "rel"),
    ("pow_3_2", X**sympy.Rational(3, 2), "pos", "real", "pow"),
    ("pow_float", X**1.5, "real", "real", "pow"),  # NaN for x < 0 on both sides
    ("pow_third", Y * X**sympy.Rational(1, 3), "real", "real", "pow"),
    ("pow_neg_3_2", Y * X**sympy.Rational(-3, 2), "pos", "real", "pow"),
    ("pow_symbolic", X**Y, "real", "real", "pow"),
    ("pow_integer_valued", X**sympy.floor(3 * Y), "real", "real", "pow"),
    ("pow_10", X**10, "real", "real", "pow"),
    ("pow_minus_9", X**-9, "real", "real", "pow"),
    ("pow_of_sum", (X + Y) ** 2, "real", "real", "rel"),
    ("pow_of_product", (X * Y) ** -3, "real", "real", "rel"),
    ("minus_square", -(X**2), "real", "real", "rel"),
    ("piecewise", sympy.Piecewise((X, X > Y), (Y, True)), "real", "real", "rel"),
    ("piecewise3", sympy.Piecewise((X, X > 0), (2 * Y, Y < 0), (X * Y, True)), "real", "real",
     "rel"),
    ("piecewise_and", sympy.Piecewise((X + 1, sympy.And(X > 0, Y > 0)), (0, True)), "real",
     "real", "rel"),
    ("min", sympy.Min(X, Y), "real", "real", "rel"),
    ("max3", sympy.Max(X, Y, 1), "real", "real", "rel"),
    ("min3", sympy.Min(X, 2 * Y, -1), "real", "real", "rel"),
    ("clip", clip(X, -0.5, 0.5), "real", "real", "rel"),
    ("clip_symbolic", clip(X, -1, Y), "real", "real", "rel"),
    ("exprel", exprel(X), "real0", "real", "rel"),
    ("exprel_product", exprel(X * Y), "real0", "real", "rel"),
    ("mod", sympy.Mod(X, Y), "real", "real", "mod"),
    ("mod_3", sympy.Mod(X, 3), "real", "real", "mod"),
    ("and", sympy.And(X > 0, Y < 1), "real", "real", "bool"),
    ("or_not", sympy.Or(X > Y, sympy.Not(Y > 0)), "real", "real", "bool"),
    ("not_and", sympy.Not(sympy.And(X > 0, Y > 0)), "real", "real", "bool"),
    ("ge", X >= Y, "real", "real", "bool"),
    ("ge_number", X >= 0.5, "real", "real", "bool"),
    ("eq", sympy.Eq(sympy.floor(X), sympy.floor(Y)), "real", "real", "bool"),
    ("ne", sympy.Ne(sympy.floor(X), sympy.floor(Y)), "real", "real", "bool"),
    ("sign", sympy.sign(X), "real0", "real", "rel"),
    ("abs", sympy.Abs(X - Y), "real", "real", "rel"),
    ("floor", sympy.floor(X), "real", "real", "rel"),
    ("ceiling", sympy.ceiling(X * Y), "real", "real", "rel"),
    ("log", sympy.log(X), "pos", "real", "rel"),
    ("log_symbolic_base", sympy.log(X, Y), "pos", "base", "rel"),
    ("exp", sympy.exp(X), "real", "real", "rel"),
    ("exp_e", sympy.E**X, "real", "real", "rel"),
    ("sigmoid", 1 / (1 + sympy.exp(-X)), "real", "real", "rel"),
    ("sqrt", sympy.sqrt(X), "pos", "real", "rel"),
    ("sin", sympy.sin(X), "real", "real", "rel"),
    ("cos", sympy.cos(X), "real", "real", "rel"),
    ("tan", sympy.tan(X), "halfpi", "real", "rel"),
    ("tanh", sympy.tanh(X), "real", "real", "rel"),
    ("sinh", sympy.sinh(X), "real", "real", "rel"),
    ("cosh", sympy.cosh(X), "real", "real", "rel"),
    ("atan", sympy.atan(X * Y), "real", "real", "rel"),
    ("asin", sympy.asin(X), "unit", "real", "rel"),
    ("acos", sympy.acos(X), "unit", "real", "rel"),
    ("erf", sympy.erf(X), "real", "real", "rel"),
    ("rational_coefficients", 3 * X / 2 - Y / 3, "real", "real", "rel"),
    ("neg_quotient", -X / Y, "real", "real", "rel"),
    ("float_coefficient", 0.1 * X + sympy.pi * Y + sympy.E, "real", "real", "rel"),
]


def _reference(expr: sympy.Basic, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    f = sympy.lambdify([X, Y], expr, modules=_LAMBDIFY_MODULES)
    with np.errstate(all="ignore"):
        return np.broadcast_to(np.asarray(f(x, y)), x.shape)


def _compare_printed(what: str, got: np.ndarray, ref: np.ndarray, x: np.ndarray,
                     y: np.ndarray, kind: str, scale: np.ndarray | float = 0.0) -> None:
    """``scale``: the size of the terms whose rounding is relative to more than the result
    (a sum's terms may be added in another order than lambdify's)."""
    if kind == "bool":
        assert np.isin(got, [0.0, 1.0]).all(), f"{what}: not a boolean: {np.unique(got)[:5]}"
        bad = np.flatnonzero((got != 0) != ref.astype(bool))
    else:
        ref = ref.astype(np.float64)
        rtol = {"rel": PRINT_RTOL, "pow": PRINT_POW_RTOL}.get(kind, 0.0)
        atol = PRINT_MOD_ATOL if kind == "mod" else rtol * scale + 1e-300
        with np.errstate(all="ignore"):
            close = np.abs(got - ref) <= rtol * np.abs(ref) + atol
        ok = np.where(np.isnan(ref), np.isnan(got), np.where(np.isinf(ref), got == ref, close))
        bad = np.flatnonzero(~ok)
    if bad.size:
        rows = [f"  x={x[i]!r}, y={y[i]!r}: got {got[i]!r}, expected {ref[i]!r}"
                for i in bad[:6]]
        raise AssertionError(f"{what}: {bad.size} of {got.size} values differ:\n"
                             + "\n".join(rows))


def _check_printed(expr: sympy.Basic, xdom: str, ydom: str, kind: str, tmp_path: Path,
                   seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 2000
    x, y = DOMAINS[xdom](rng, n), DOMAINS[ydom](rng, n)
    code = TritonPrinter({"x": "x", "y": "y"}).doprint(expr)
    got = _run_printed(code, x, y, tmp_path)
    scale = (sum(np.abs(_reference(t, x, y)) for t in expr.args)
             if isinstance(expr, sympy.Add) else 0.0)
    _compare_printed(f"{expr} printed as {code}", got, _reference(expr, x, y), x, y, kind,
                     scale)


@pytest.mark.parametrize(("expr", "xdom", "ydom", "kind"), [c[1:] for c in PRINT_CASES],
                         ids=[c[0] for c in PRINT_CASES])
def test_printed_expression(expr: sympy.Basic, xdom: str, ydom: str, kind: str,
                            tmp_path: Path, fresh_seed: int) -> None:
    _check_printed(expr, xdom, ydom, kind, tmp_path, fresh_seed)


def test_printed_numeric_constants_keep_float64(tmp_path: Path, fresh_seed: int) -> None:
    cases = [
        sympy.log(X, 2),  # log(x)/log(2); also the frontend's log10
        sympy.log(X, 10),
        sympy.sqrt(2) * X,
        X * sympy.exp(2),
        X * sympy.atan(2),
        2**X,
        sympy.Piecewise((0.1, X > 0), (0.3, True)),
    ]
    failures = []
    for expr in cases:
        try:
            _check_printed(expr, "pos", "real", "pow", tmp_path, fresh_seed)
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0] + " " + str(exc).splitlines()[1])
    assert not failures, "\n".join(failures)


def test_printer_draws_get_distinct_streams() -> None:
    calls: list[tuple[int, str]] = []

    def draw(stream: int, kind: str) -> str:
        calls.append((stream, kind))
        return f"D{stream}_{kind}"

    streams = [3]
    expr = X * rand.new() + randn.new() + Y * rand.new()
    code = TritonPrinter({"x": "x", "y": "y"}, draw=draw, streams=streams).doprint(expr)
    assert sorted(s for s, _ in calls) == [3, 4, 5]
    assert sorted(k for _, k in calls) == ["rand", "rand", "randn"]
    assert streams == [6]
    for s, k in calls:
        assert f"D{s}_{k}" in code
    # a second printer sharing the counter continues it
    TritonPrinter({"x": "x"}, draw=draw, streams=streams).doprint(randn.new() * X)
    assert calls[-1] == (6, "randn") and streams == [7]


def test_printed_draws_run(tmp_path: Path, fresh_seed: int) -> None:
    """Two draw sites in one kernel: different streams give different numbers."""

    def draw(stream: int, kind: str) -> str:
        fn = "uniform" if kind == "rand" else "normal"
        return f"_r.{fn}(seed, {stream}, 0, offs, n)"

    expr = rand.new() - rand.new()
    code = TritonPrinter({"x": "x", "y": "y"}, draw=draw).doprint(expr)
    n = 4096
    got = _run_printed(code, np.zeros(n), np.zeros(n), tmp_path,
                       seed=fresh_seed % (2**31 - 1))
    assert (np.abs(got) < 1).all()
    assert np.count_nonzero(got) > n - 10
    assert abs(got.mean()) < N_SE * math.sqrt(1 / 6 / n)  # Var(u1 - u2) = 1/6


@pytest.mark.parametrize("make", [rand.new, randn.new], ids=["rand", "randn"])
def test_printer_draw_without_callback(make: Callable[[], sympy.Expr]) -> None:
    with pytest.raises(ValueError, match="not available"):
        TritonPrinter({"x": "x"}).doprint(X + make())


@pytest.mark.parametrize("expr", [sympy.Function("foo")(X), sympy.gamma(X), sympy.atan2(X, Y),
                                  sympy.asinh(X), sympy.erfc(X)],
                         ids=["foo", "gamma", "atan2", "asinh", "erfc"])
def test_printer_unknown_function(expr: sympy.Basic) -> None:
    name = type(expr).__name__
    with pytest.raises(ValueError, match=f"'{name}'"):
        TritonPrinter({"x": "x", "y": "y"}).doprint(1 + expr)


def test_printer_unknown_function_heaviside() -> None:
    with pytest.raises(ValueError, match="Heaviside"):
        TritonPrinter({"x": "x"}).doprint(sympy.Heaviside(X))


def test_printer_unbound_symbol() -> None:
    with pytest.raises(KeyError, match="'y'"):
        TritonPrinter({"x": "x"}).doprint(X + Y)
