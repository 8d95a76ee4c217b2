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

from snncc.backends.printing import PythonSyntax, py_float, route_elementary
from snncc.ir.functions import clip, exprel, rand, randn, sigmoid

# sympy function name -> Triton expression template ({0}, {1}: printed arguments)
_FUNCS = {
    "exp": "tl.exp({0})", "log": "tl.log({0})", "sqrt": "tl.sqrt({0})",
    "sin": "tl.sin({0})", "cos": "tl.cos({0})", "Abs": "tl.abs({0})",
    "floor": "tl.floor({0})", "ceiling": "tl.ceil({0})", "erf": "tl.erf({0})",
    "tan": "_m.tan({0})", "tanh": "_m.tanh({0})", "sinh": "_m.sinh({0})",
    "cosh": "_m.cosh({0})", "atan": "_m.atan({0})", "asin": "_m.asin({0})",
    "acos": "_m.acos({0})", "sign": "_m.sign({0})", "expm1": "_m.expm1({0})",
    "log1p": "_m.log1p({0})",
}


@route_elementary
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

    def __init__(self, names: Mapping[str, str],
                 draw: Callable[[int, str], str] | None = None,
                 streams: list[int] | None = None) -> None:
        super().__init__({"order": "none"})
        self.names = dict(names)
        self.draw = draw
        self.streams = streams if streams is not None else [0]
        self._in_time = False  # printing inside a float64 expression of t

    def _print(self, expr: object, **kwargs: object) -> str:
        # a number-valued subexpression (log(2), sqrt(2)/3, ...) is evaluated here in
        # double precision: in a kernel, a call on a literal would run in float32
        if isinstance(expr, sympy.Expr) and not expr.is_Number and expr.is_number \
                and not expr.atoms(rand, randn):
            value = complex(expr.evalf(30))
            if value.imag == 0.0:
                return py_float(value.real)
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

    # ------------------------------------------------------------- atoms
    def _print_Symbol(self, e: sympy.Symbol) -> str:
        if e.name not in self.names:
            raise KeyError(f"no value bound to symbol {e.name!r} in generated Triton code")
        return self.names[e.name]

    def _print_Integer(self, e: sympy.Integer) -> str:
        return repr(float(int(e)))

    def _print_NegativeOne(self, e: sympy.Basic) -> str:
        return "-1.0"

    def _print_One(self, e: sympy.Basic) -> str:
        return "1.0"

    def _print_Zero(self, e: sympy.Basic) -> str:
        return "0.0"

    # ------------------------------------------------------------- operators
    def _print_Pow(self, e: sympy.Pow, rational: bool = False) -> str:
        base, ex = e.args
        b = self.parenthesize(base, 60)
        if ex == sympy.S.Half:
            return f"tl.sqrt({self._print(base)})"
        if ex == -sympy.S.Half:
            return f"(1.0/tl.sqrt({self._print(base)}))"
        if ex.is_Integer and 1 <= abs(int(ex)) <= 8:
            k = abs(int(ex))
            prod = "*".join([b] * k) if k > 1 else b
            return f"(1.0/({prod}))" if int(ex) < 0 else f"({prod})"
        if base.is_number and float(base) > 0:  # b**x = exp(x*log(b)), log(b) exact here
            return f"tl.exp({self._print(ex)} * {float(sympy.log(base)).__repr__()})"
        return f"_m.pow({self._print(base)}, {self._print(ex)})"

    def _print_Mul(self, e: sympy.Mul) -> str:
        c, rest = e.as_coeff_Mul()
        if c == -1:
            return f"-{self.parenthesize(rest, 50)}"
        return super()._print_Mul(e)

    def _print_Relational(self, e: sympy.core.relational.Relational) -> str:
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[e.rel_op]
        return f"({self._print(e.lhs)} {op} {self._print(e.rhs)})"

    def _print_Not(self, e: sympy.Not) -> str:
        return f"({self._print(e.args[0])} == 0)"

    def _print_Piecewise(self, e: sympy.Piecewise) -> str:
        args = list(e.args)
        if args[-1].cond != sympy.true:
            raise ValueError(f"Piecewise without a default branch: {e}")
        out = self._print(args[-1].expr)
        if args[-1].expr.is_number:  # a block in the kernel's dtype, not a float32 literal
            out = f"tl.full((), {out}, DT)"
        for expr, cond in reversed(args[:-1]):
            out = f"tl.where({self._print(cond)}, {self._print(expr)}, {out})"
        return out

    def _print_Mod(self, e: sympy.Mod) -> str:
        a, b = (self._print(x) for x in e.args)
        return f"_m.floormod({a}, {b})"

    def _print_Min(self, e: sympy.Min) -> str:
        return self._fold("tl.minimum", e)

    def _print_Max(self, e: sympy.Max) -> str:
        return self._fold("tl.maximum", e)

    # ------------------------------------------------------------- functions
    def _print_Function(self, e: sympy.Function) -> str:
        name = type(e).__name__
        if name == "log" and len(e.args) == 2:
            return f"(tl.log({self._print(e.args[0])})/{float(sympy.log(e.args[1]))!r})"
        if name in _FUNCS:
            return _FUNCS[name].format(*(self._print(a) for a in e.args))
        raise ValueError(f"the Triton printer cannot print function {name!r}")

    def _print_Heaviside(self, e: sympy.Heaviside) -> str:
        return self._print_Function(e)

    def _print_clip(self, e: clip) -> str:
        x, lo, hi = (self._print(a) for a in e.args)
        return f"tl.minimum(tl.maximum({x}, {lo}), {hi})"

    def _print_exprel(self, e: exprel) -> str:
        return f"_m.exprel({self._print(e.args[0])})"

    def _print_sigmoid(self, e: sigmoid) -> str:
        return f"tl.sigmoid({self._print(e.args[0])})"

    def _draw(self, kind: str) -> str:
        if self.draw is None:
            raise ValueError(f"{kind}() is not available here")
        k = self.streams[0]
        self.streams[0] += 1
        return self.draw(k, kind)

    def _print_rand(self, e: rand) -> str:
        return self._draw("rand")

    def _print_randn(self, e: randn) -> str:
        return self._draw("randn")
