"""What the printers of all targets share: every target's code is Python syntax, so
numbers (:func:`py_float`: infinities as ``float('inf')``, which Python and Triton
kernels both read) and truth values print as Python literals and element-wise logic as
``&``/``|`` (:class:`PythonSyntax`); sympy
dispatches each elementary function to ``_print_<name>``, which every target routes to its
own ``_print_Function`` (:func:`route_elementary`)."""

from __future__ import annotations

import math

import sympy

ELEMENTARY = ("exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos",
              "atan", "floor", "ceiling", "sign", "Abs", "erf")


def py_float(x: float) -> str:
    """``x`` as a Python (and Triton) expression of its double value: ``repr`` when
    finite, ``float('inf')``, ``(-float('inf'))`` or ``float('nan')`` otherwise (the
    bare ``inf`` / ``nan`` that ``repr`` gives are not names in generated code)."""
    x = float(x)
    if math.isfinite(x):
        return repr(x)
    if math.isnan(x):
        return "float('nan')"
    return "float('inf')" if x > 0 else "(-float('inf'))"


def route_elementary(cls: type) -> type:
    """Class decorator: ``_print_exp``, ``_print_log``, ... all call
    ``cls._print_Function``."""
    for name in ELEMENTARY:
        setattr(cls, f"_print_{name}", cls._print_Function)
    return cls


class PythonSyntax:
    """Numbers (as Python floats, full double precision), truth values, and element-wise
    ``and``/``or`` of conditions."""

    def _print_Float(self, e: sympy.Float) -> str:
        return py_float(e)

    def _print_Rational(self, e: sympy.Rational) -> str:
        return py_float(float(e.p) / float(e.q))

    def _print_Infinity(self, e: sympy.Basic) -> str:
        return py_float(math.inf)

    def _print_NegativeInfinity(self, e: sympy.Basic) -> str:
        return py_float(-math.inf)

    def _print_NaN(self, e: sympy.Basic) -> str:
        return py_float(math.nan)

    def _print_ComplexInfinity(self, e: sympy.Basic) -> str:
        raise ValueError("complex infinity (a division by zero) has no value in generated "
                         "code; the specialize pass refuses it with the parameters to fix")

    def _print_Half(self, e: sympy.Rational) -> str:
        return "0.5"

    def _print_Pi(self, e: sympy.Basic) -> str:
        return repr(float(sympy.pi))

    def _print_Exp1(self, e: sympy.Basic) -> str:
        return repr(float(sympy.E))

    def _print_BooleanTrue(self, e: sympy.Basic) -> str:
        return "True"

    def _print_BooleanFalse(self, e: sympy.Basic) -> str:
        return "False"

    def _print_And(self, e: sympy.And) -> str:
        return "(" + " & ".join(self._print(a) for a in e.args) + ")"

    def _print_Or(self, e: sympy.Or) -> str:
        return "(" + " | ".join(self._print(a) for a in e.args) + ")"

    def _fold(self, fn: str, e: sympy.Basic) -> str:
        """``fn(fn(a, b), c)...`` over the arguments of ``e`` (Min, Max)."""
        args = [self._print(a) for a in e.args]
        out = args[0]
        for a in args[1:]:
            out = f"{fn}({out}, {a})"
        return out
