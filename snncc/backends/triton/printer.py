"""The Triton printer: sympy expressions -> Triton (``triton.language``) source.

The one place that decides how an IR expression looks inside a generated Triton kernel.
Every value in a kernel is a block (one lane per neuron or synapse) or a scalar; the
printer needs no tensor/scalar distinction, only the names bound to each symbol.
Functions beyond Triton's core ops (``expm1``, ``tanh``, ``atan``, ``exprel``, ...) are
the portable helpers of :mod:`snncc.kernels.smath` (imported as ``_m`` by the generated
module), so the same source runs compiled on a GPU and in Triton's CPU interpreter.
Random draws are counter-based (:mod:`snncc.kernels.rng`): each draw site gets its own
stream number, so no two draws share a counter. Printed code may use the kernel's dtype
``DT`` (a ``tl.constexpr`` every generated kernel takes); number-valued subexpressions are
evaluated here, in double precision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import sympy
from sympy.printing.str import StrPrinter

from snncc.backends.printing import Entry, PythonSyntax
from snncc.ir.functions import rand, randn

#: function table: name -> Triton expression template ({0}, {1}: printed arguments)
FUNCTIONS: dict[str, Entry] = {
    "exp": "tl.exp({0})", "log": "tl.log({0})", "sqrt": "tl.sqrt({0})",
    "rsqrt": "(1.0/tl.sqrt({0}))",
    "sin": "tl.sin({0})", "cos": "tl.cos({0})", "Abs": "tl.abs({0})",
    "floor": "tl.floor({0})", "ceiling": "tl.ceil({0})", "erf": "tl.erf({0})",
    "tan": "_m.tan({0})", "tanh": "_m.tanh({0})", "sinh": "_m.sinh({0})",
    "cosh": "_m.cosh({0})", "atan": "_m.atan({0})", "asin": "_m.asin({0})",
    "acos": "_m.acos({0})", "sign": "_m.sign({0})", "expm1": "_m.expm1({0})",
    "log1p": "_m.log1p({0})", "Mod": "_m.floormod({0}, {1})",
    "Min": "tl.minimum({0}, {1})", "Max": "tl.maximum({0}, {1})",
    "where": "tl.where({0}, {1}, {2})",
    "clip": "tl.minimum(tl.maximum({0}, {1}), {2})", "exprel": "_m.exprel({0})",
    "sigmoid": "tl.sigmoid({0})",
}


class TritonPrinter(PythonSyntax, StrPrinter):
    """Prints IR expressions as Triton code.

    Args:
        names: symbol name -> the kernel expression holding its value (a local block
            such as ``v``, or a scalar such as ``t``).
        draw: called with a stream number and ``"rand"``/``"randn"``; returns the code
            of one counter-based draw for every lane of the kernel.
        streams: the stream counter shared by all draw sites of a network (a one-item
            list, incremented in place).
    """

    printmethod = "_tritoncode"
    target = "Triton"
    functions = FUNCTIONS
    fold_numbers = True

    def __init__(self, names: Mapping[str, str],
                 draw: Callable[[int, str], str] | None = None,
                 streams: list[int] | None = None) -> None:
        super().__init__(names, {"order": "none"}, draw, streams)
        self._in_time = False  # printing inside a float64 expression of t

    def _print(self, expr: object, **kwargs: object) -> str:
        if not self._in_time and self._time_only(expr):
            # t is a float64 scalar in every kernel (exact step * dt): what depends on t
            # alone is computed in float64 too, and only its value meets the kernel's DT
            self._in_time = True
            try:
                out = super()._print(expr, **kwargs)
            finally:
                self._in_time = False
            return out if isinstance(expr, sympy.logic.boolalg.Boolean) else f"({out}).to(DT)"
        return super()._print(expr, **kwargs)

    def _time_only(self, expr: object) -> bool:
        """Whether ``expr`` reads the time ``t`` and nothing else that varies."""
        if not isinstance(expr, (sympy.Expr, sympy.logic.boolalg.Boolean)) \
                or "t" not in self.names:
            return False
        return ({s.name for s in expr.free_symbols} == {"t"}
                and not expr.atoms(rand, randn))

    # a kernel computes in DT: integers print as float literals, never Python ints
    def _print_Integer(self, e: sympy.Integer) -> str:
        return repr(float(int(e)))

    def _power(self, e: sympy.Pow) -> str:
        base, ex = e.args
        product = self._product(base, ex)
        if product is not None:
            return product
        if base.is_number and float(base) > 0:  # b**x = exp(x*log(b)), log(b) exact here
            return f"tl.exp({self._print(ex)} * {float(sympy.log(base))!r})"
        return f"_m.pow({self._print(base)}, {self._print(ex)})"

    def _print_Mul(self, e: sympy.Mul) -> str:
        c, rest = e.as_coeff_Mul()
        if c == -1:
            return f"-{self.parenthesize(rest, 50)}"
        return super()._print_Mul(e)

    def _print_Not(self, e: sympy.Not) -> str:
        return f"({self._print(e.args[0])} == 0)"

    def _default_branch(self, expr: sympy.Basic) -> str:
        out = self._print(expr)
        # a block in the kernel's dtype, not a float32 literal
        return f"tl.full((), {out}, DT)" if expr.is_number else out
