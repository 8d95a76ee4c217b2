"""Surrogate gradients: smooth stand-ins for the derivative of the spike (a Heaviside step).

Each surrogate is defined once, as a sympy expression of its smooth *primitive* ``S(x)``
(a sigmoid-like function going from 0 at ``x -> -inf`` to 1 at ``x -> +inf``) with a
sharpness ``alpha``; the backward pass uses its exact derivative ``S'(x)``, which
:func:`derivative` returns. ``x`` is the distance to the threshold, in the model's units
(SI for models with units): for ``threshold="v > Vt"`` it is ``v - Vt``. The forward pass
always uses the true Heaviside step.

| name | ``S'(x)`` | default ``alpha`` | after |
|---|---|---|---|
| ``sigmoid`` | ``alpha*sig(alpha x)*(1 - sig(alpha x))`` | 4 | SpikingJelly |
| ``atan`` | ``alpha/2 / (1 + (pi/2 alpha x)^2)`` | 2 | SpikingJelly ``ATan`` |
| ``fast_sigmoid`` | ``alpha/2 / (1 + alpha|x|)^2`` | 25 | SuperSpike (Zenke & Ganguli 2018) |
| ``rectangle`` | ``alpha`` if ``|x| < 1/(2 alpha)`` else 0 | 1 | STCA (Gu et al. 2019) |
| ``triangle`` | ``alpha*max(0, 1 - |x|)`` | 0.3 | Bellec et al. 2018 (dampened) |
| ``gaussian`` | ``alpha/sqrt(2 pi) exp(-(alpha x)^2/2)`` | 1 | STBP (Wu et al. 2018) |
| ``piecewise_quadratic`` | ``alpha - alpha^2|x|`` if ``|x| < 1/alpha`` else 0 | 1 | Esser 2016 |

Every ``S'`` but the triangle's integrates to 1 over the real line, so ``alpha`` changes
the width, never the total gradient; the triangle has unit half-width and ``alpha`` is its
height (Bellec et al.'s dampening factor). ``piecewise_quadratic`` (named after its
primitive) has a triangular derivative of half-width ``1/alpha`` and area 1. SPAIC's
learner names map to surrogates through :data:`LEARNERS`.

They live in the IR layer because the autodiff pass differentiates with them; the public
path is :mod:`snncc.learning.surrogates`, which re-exports this module.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy

from snncc.errors import ParameterError
from snncc.ir.functions import sigmoid

X = sympy.Symbol("x", real=True)
ALPHA = sympy.Symbol("alpha", positive=True)


def _sigmoid() -> sympy.Expr:
    return sigmoid(ALPHA * X)


def _atan() -> sympy.Expr:
    return sympy.atan(sympy.pi / 2 * ALPHA * X) / sympy.pi + sympy.Rational(1, 2)


def _fast_sigmoid() -> sympy.Expr:
    return sympy.Rational(1, 2) + ALPHA * X / (2 * (1 + ALPHA * sympy.Abs(X)))


def _rectangle() -> sympy.Expr:
    w = 1 / ALPHA
    return sympy.Piecewise((0, X <= -w / 2), (ALPHA * X + sympy.Rational(1, 2), X < w / 2),
                           (1, True))


def _triangle() -> sympy.Expr:
    half = sympy.Rational(1, 2)
    return ALPHA * sympy.Piecewise((0, X <= -1), ((X + 1)**2 * half, X <= 0),
                                   (1 - (1 - X)**2 * half, X < 1), (1, True))


def _gaussian() -> sympy.Expr:
    return (1 + sympy.erf(ALPHA * X / sympy.sqrt(2))) / 2


def _piecewise_quadratic() -> sympy.Expr:
    w = 1 / ALPHA
    return sympy.Piecewise((0, X <= -w), (ALPHA**2 * X**2 / 2 + ALPHA * X + sympy.Rational(1, 2),
                                          X <= 0),
                           (-ALPHA**2 * X**2 / 2 + ALPHA * X + sympy.Rational(1, 2), X < w),
                           (1, True))


# name -> (primitive, default alpha)
_SURROGATES: dict[str, tuple[Callable[[], sympy.Expr], float]] = {
    "sigmoid": (_sigmoid, 4.0),
    "atan": (_atan, 2.0),
    "fast_sigmoid": (_fast_sigmoid, 25.0),
    "rectangle": (_rectangle, 1.0),
    "triangle": (_triangle, 0.3),
    "gaussian": (_gaussian, 1.0),
    "piecewise_quadratic": (_piecewise_quadratic, 1.0),
}

#: SPAIC's learner names (``Learner(algorithm=...)``) and the surrogate each one uses.
#: SPAIC's ``sbp`` (surrogate backpropagation) defaults to the arctangent with alpha = 2,
#: the same function as ``atan`` here; its other ``surrogate_func`` choices are picked by
#: giving the surrogate's name as the learner.
LEARNERS: dict[str, str] = {"STCA": "rectangle", "STBP": "gaussian", "SBP": "atan"}


def names() -> list[str]:
    """The surrogate names."""
    return list(_SURROGATES)


def resolve(name: str) -> str:
    """A surrogate name, or a SPAIC learner name (``STCA``, ``STBP``, ``sbp``) mapped to its
    surrogate; anything else is a :class:`~snncc.ParameterError` listing the choices."""
    if name in _SURROGATES:
        return name
    for learner, surrogate in LEARNERS.items():
        if name.upper() == learner:
            return surrogate
    raise ParameterError(f"unknown surrogate {name!r}; choose one of "
                         f"{', '.join(_SURROGATES)} (or a learner name: "
                         f"{', '.join(f'{k} = {v}' for k, v in LEARNERS.items())})")


def default_alpha(name: str) -> float:
    """The default sharpness of surrogate ``name``."""
    return _SURROGATES[resolve(name)][1]


def primitive(name: str, alpha: float | None = None) -> sympy.Expr:
    """``S(x)`` of surrogate ``name`` (a function of :data:`X`); ``alpha`` substituted
    when given (else it stays the symbol :data:`ALPHA`)."""
    e = _SURROGATES[resolve(name)][0]()
    return e if alpha is None else e.subs(ALPHA, sympy.Float(check_alpha(alpha)))


def derivative(name: str, alpha: float | None = None) -> sympy.Expr:
    """``S'(x)``: the surrogate gradient of the spike with respect to the threshold
    distance ``x``."""
    d = sympy.diff(_SURROGATES[resolve(name)][0](), X)
    d = sympy.piecewise_fold(d).subs(X * sympy.sign(X), sympy.Abs(X))
    if not d.has(sympy.Piecewise):
        d = sympy.factor(d)
    return d if alpha is None else d.subs(ALPHA, sympy.Float(check_alpha(alpha)))


def check_alpha(alpha: float) -> float:
    """``alpha`` as a positive finite float, else a ParameterError."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ParameterError(f"surrogate alpha must be a positive number, got {alpha!r}") \
            from None
    if not a > 0 or a == float("inf"):
        raise ParameterError(f"surrogate alpha must be a positive finite number, got {alpha!r}")
    return a


__all__ = ["ALPHA", "LEARNERS", "X", "check_alpha", "default_alpha", "derivative", "names",
           "primitive", "resolve"]
