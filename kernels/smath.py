"""Portable math for generated Triton kernels (imported as ``_m``).

Triton's core has ``exp``, ``log``, ``sqrt``, ``sin``, ``cos``, ``floor``, ``ceil``,
``abs`` and ``erf``; everything else a model may use is written here from those, accurate
to a few ulps in float32 and float64, so a kernel computes the same values compiled on a
GPU and in Triton's CPU interpreter (which has no ``libdevice``).
"""

from __future__ import annotations

from snncc.kernels import import_triton

triton = import_triton()
import triton.language as tl  # noqa: E402

PI_2 = tl.constexpr(1.5707963267948966)


@triton.jit
def expm1(x):
    """exp(x) - 1, accurate near 0 (Kahan: (u - 1) * x / log(u) with u = exp(x))."""
    u = tl.exp(x)
    um1 = u - 1.0
    lu = tl.log(u)
    safe = tl.where(lu == 0.0, 1.0, lu)
    r = tl.where(um1 == 0.0, x, tl.where(um1 == -1.0, -1.0, um1 * (x / safe)))
    return tl.where(u == float("inf"), u, r)


@triton.jit
def log1p(x):
    """log(1 + x), accurate near 0 (Kahan: log(u) * x / (u - 1) with u = 1 + x)."""
    u = 1.0 + x
    d = u - 1.0
    safe = tl.where(d == 0.0, 1.0, d)
    r = tl.where(d == 0.0, x, tl.log(u) * (x / safe))
    return tl.where(u == float("inf"), u, r)


@triton.jit
def exprel(x):
    """(exp(x) - 1) / x, with exprel(0) = 1."""
    safe = tl.where(x == 0.0, 1.0, x)
    em = expm1(x)
    # past exp's overflow the quotient is still finite: (exp(x/2)/x)*exp(x/2) (halving
    # is exact, so this keeps a few ulps)
    h = tl.exp(0.5 * x)
    big = (h / tl.where(x > 1.0, x, 1.0)) * h
    return tl.where(x == 0.0, 1.0, tl.where(em == float("inf"), big, em / safe))


@triton.jit
def sign(x):
    """-1, 0 or 1 (in the dtype of x)."""
    return (x > 0).to(x.dtype) - (x < 0).to(x.dtype)


@triton.jit
def tanh(x):
    """Hyperbolic tangent through expm1 of -2|x| (no cancellation near 0)."""
    e = expm1(-2.0 * tl.abs(x))
    r = -e / (e + 2.0)
    return tl.where(x < 0, -r, r)


@triton.jit
def sinh(x):
    """Hyperbolic sine through expm1 of |x|."""
    a = tl.abs(x)
    em = expm1(a)
    r = 0.5 * (em + em / (em + 1.0))
    h = tl.exp(0.5 * a)
    r = tl.where(em == float("inf"), (0.5 * h) * h, r)  # exp(a) overflows, sinh not yet
    return tl.where(x < 0, -r, r)


@triton.jit
def cosh(x):
    """Hyperbolic cosine."""
    a = tl.abs(x)
    e = tl.exp(a)
    h = tl.exp(0.5 * a)
    return tl.where(e == float("inf"), (0.5 * h) * h, 0.5 * (e + 1.0 / e))


@triton.jit
def tan(x):
    """Tangent."""
    return tl.sin(x) / tl.cos(x)


@triton.jit
def atan(x):
    """Arc tangent: 1/x reflection, two argument halvings (|z| <= tan(pi/16)), then the
    alternating series to z**25 (error below 1e-17)."""
    a = tl.abs(x)
    inv = a > 1.0
    z = tl.where(inv, 1.0 / tl.where(inv, a, 1.0), a)
    z = z / (1.0 + tl.sqrt(1.0 + z * z))
    z = z / (1.0 + tl.sqrt(1.0 + z * z))
    z2 = z * z
    p = 1.0 / 25.0
    p = 1.0 / 23.0 - z2 * p
    p = 1.0 / 21.0 - z2 * p
    p = 1.0 / 19.0 - z2 * p
    p = 1.0 / 17.0 - z2 * p
    p = 1.0 / 15.0 - z2 * p
    p = 1.0 / 13.0 - z2 * p
    p = 1.0 / 11.0 - z2 * p
    p = 1.0 / 9.0 - z2 * p
    p = 1.0 / 7.0 - z2 * p
    p = 1.0 / 5.0 - z2 * p
    p = 1.0 / 3.0 - z2 * p
    p = 1.0 - z2 * p
    r = 4.0 * z * p
    r = tl.where(inv, PI_2 - r, r)
    return tl.where(x < 0, -r, r)


@triton.jit
def asin(x):
    """Arc sine (NaN outside [-1, 1])."""
    return atan(x / tl.sqrt((1.0 - x) * (1.0 + x)))


@triton.jit
def acos(x):
    """Arc cosine as 2*atan(sqrt((1 - x)/(1 + x))) (accurate near x = 1)."""
    return 2.0 * atan(tl.sqrt((1.0 - x) / (1.0 + x)))


@triton.jit
def floormod(a, b):
    """a mod b with the sign of b (Python's and sympy's Mod), from the exact remainder
    ``a % b`` (C's fmod, with the sign of a)."""
    r = a % b
    return tl.where((r != 0.0) & ((r < 0.0) != (b < 0.0)), r + b, r)


@triton.jit
def pow(b, e):
    """b**e for any real e; a negative base needs an integer exponent (else NaN);
    b**0 = 1 for every b."""
    r = tl.exp(e * tl.log(tl.abs(b)))
    e_int = tl.floor(e) == e
    odd = e_int & (floormod(e, 2.0) == 1.0)
    neg = tl.where(odd, -r, r)
    r = tl.where(b < 0, tl.where(e_int, neg, float("nan")), r)
    return tl.where(e == 0.0, 1.0, r)
