"""Sympy function classes that stand for snncc's non-elementary functions.

Every printer (one per target) knows how to print these. Random draws carry a unique
integer id as their argument so that two draws are never merged by CSE.
"""

from __future__ import annotations

import itertools

import sympy

_ids = itertools.count()


class rand(sympy.Function):
    """Uniform random number in [0, 1), one per neuron (or synapse) and call."""

    nargs = 1
    is_real = True
    is_number = False  # a draw, not a constant (sympy would try to evaluate 3 >= rand(0))

    def _eval_evalf(self, prec: int) -> None:  # never a number (sympy would call mpmath.rand)
        return None

    @classmethod
    def new(cls) -> sympy.Expr:
        return cls(sympy.Integer(next(_ids)))


class randn(sympy.Function):
    """Standard normal random number, one per neuron (or synapse) and call."""

    nargs = 1
    is_real = True
    is_number = False  # a draw, not a constant (sympy would try to evaluate 3 >= rand(0))

    def _eval_evalf(self, prec: int) -> None:  # never a number (sympy would call mpmath.randn)
        return None

    @classmethod
    def new(cls) -> sympy.Expr:
        return cls(sympy.Integer(next(_ids)))


class clip(sympy.Function):
    """``clip(x, low, high)``: x limited to [low, high]."""

    nargs = 3
    is_real = True

    @classmethod
    def eval(cls, x, lo, hi):  # noqa: ANN001, ANN206 - sympy protocol
        if x.is_number and lo.is_number and hi.is_number:
            return sympy.Min(sympy.Max(x, lo), hi)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        x, lo, hi = self.args
        inside = sympy.Piecewise((1, sympy.And(x > lo, x < hi)), (0, True))
        if argindex == 1:
            return inside
        if argindex == 2:
            return sympy.Piecewise((1, x <= lo), (0, True))
        return sympy.Piecewise((1, x >= hi), (0, True))


def is_random(expr: sympy.Expr) -> bool:
    """True if ``expr`` contains a random draw."""
    return bool(expr.atoms(rand, randn))


class exprel(sympy.Function):
    """``exprel(x) = (exp(x) - 1)/x`` with ``exprel(0) = 1`` (numerically safe)."""

    nargs = 1
    is_real = True

    @classmethod
    def eval(cls, x):  # noqa: ANN001, ANN206 - sympy protocol
        if x.is_zero:
            return sympy.Integer(1)
        if x.is_Number:
            return (sympy.exp(x) - 1) / x
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        # (x e^x - e^x + 1)/x**2 cancels badly near 0: a Taylor series there
        x = self.args[0]
        # sum_k k x**(k-1)/(k+1)!, to k = 12: below 4e-14 relative error for |x| < 1/2
        series = sum((sympy.Rational(k, sympy.factorial(k + 1)) * x**(k - 1)
                      for k in range(1, 13)), sympy.Integer(0))
        return sympy.Piecewise((series, sympy.Abs(x) < sympy.Rational(1, 2)),
                               ((sympy.exp(x) * x - sympy.exp(x) + 1) / x**2, True))

    def _eval_rewrite_as_exp(self, x, **kwargs):  # noqa: ANN001, ANN202
        return (sympy.exp(x) - 1) / x


class sigmoid(sympy.Function):
    """The logistic function ``1/(1 + exp(-x))``, printed as each target's stable sigmoid
    (a plain ``exp`` quotient overflows to ``inf/inf`` in float32)."""

    nargs = 1
    is_real = True

    @classmethod
    def eval(cls, x):  # noqa: ANN001, ANN206 - sympy protocol
        if x.is_Number:
            return 1 / (1 + sympy.exp(-x))
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, x, **kwargs):  # noqa: ANN001, ANN202
        return 1 / (1 + sympy.exp(-x))
