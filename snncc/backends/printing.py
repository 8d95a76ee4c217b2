"""What the printers of all targets share: every target's code is Python syntax, so
numbers and truth values print as Python literals and element-wise logic as ``&``/``|``
(:class:`PythonSyntax`); sympy
dispatches each elementary function to ``_print_<name>``, which every target routes to its
own ``_print_Function`` (:func:`route_elementary`)."""

from __future__ import annotations

import sympy

ELEMENTARY = ("exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos",
              "atan", "floor", "ceiling", "sign", "Abs", "erf")


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
        return repr(float(e))

    def _print_Rational(self, e: sympy.Rational) -> str:
        return repr(float(e.p) / float(e.q))

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
