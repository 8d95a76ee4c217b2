"""The torch printer: sympy expressions -> torch (Python) source.

The one place that decides how an IR expression looks in generated torch code. Names
are mapped to local variables by ``names``; an expression that involves no tensor is
printed with Python's ``math`` so constants and time-dependent scalars stay cheap.
Helpers (``_where``, ``_clip``, ``_exprel``, ...) are defined in the template preamble.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import sympy
from sympy.printing.pycode import PythonCodePrinter

from snncc.backends.printing import PythonSyntax, route_elementary
from snncc.ir.functions import clip, exprel, rand, randn, sigmoid

_TORCH = {"exp": "torch.exp", "log": "torch.log", "sin": "torch.sin", "cos": "torch.cos",
          "tan": "torch.tan", "tanh": "torch.tanh", "sinh": "torch.sinh", "cosh": "torch.cosh",
          "asin": "torch.asin", "acos": "torch.acos", "atan": "torch.atan",
          "floor": "torch.floor", "ceiling": "torch.ceil", "sign": "torch.sign",
          "Abs": "torch.abs", "sqrt": "torch.sqrt", "erf": "torch.erf"}
_MATH = {"exp": "math.exp", "log": "math.log", "sin": "math.sin", "cos": "math.cos",
         "tan": "math.tan", "tanh": "math.tanh", "sinh": "math.sinh", "cosh": "math.cosh",
         "asin": "math.asin", "acos": "math.acos", "atan": "math.atan",
         "floor": "math.floor", "ceiling": "math.ceil", "sign": "_sign", "Abs": "abs",
         "sqrt": "math.sqrt", "erf": "math.erf"}


@route_elementary
class TorchPrinter(PythonSyntax, PythonCodePrinter):
    """Prints IR expressions as torch code.

    Args:
        names: symbol name -> the Python expression that holds its value (a local tensor
            such as ``P_v``, or a scalar such as ``t``).
        tensors: the symbol names whose values are tensors.
        rand_shape: the shape expression used for ``rand()`` / ``randn()`` draws.
    """

    printmethod = "_torchcode"

    def __init__(self, names: Mapping[str, str], tensors: set[str], rand_shape: str = "SHAPE",
                 constant: Callable[[float], str] | None = None) -> None:
        super().__init__({"fully_qualified_modules": False, "inline": True,
                          "allow_unknown_functions": True})
        self.names = dict(names)
        self.tensors = set(tensors)
        self.rand_shape = rand_shape
        self.constant = constant

    # ------------------------------------------------------------- helpers
    def is_tensor(self, e: sympy.Basic) -> bool:
        if e.atoms(rand, randn):
            return True
        return any(s.name in self.tensors for s in e.free_symbols)

    def doprint(self, expr: sympy.Basic, assign_to: object = None) -> str:  # noqa: D102
        return super().doprint(expr, assign_to)

    # ------------------------------------------------------------- atoms
    def _print_Symbol(self, e: sympy.Symbol) -> str:
        if e.name not in self.names:
            raise KeyError(f"no value bound to symbol {e.name!r} in generated code")
        return self.names[e.name]

    def _print_Integer(self, e: sympy.Integer) -> str:
        return str(int(e))

    # ------------------------------------------------------------- operators
    def _print_Pow(self, e: sympy.Pow, rational: bool = False) -> str:
        base, ex = e.args
        b = self.parenthesize(base, 60)
        if ex == sympy.S.Half:
            return f"{'torch.sqrt' if self.is_tensor(base) else 'math.sqrt'}({self._print(base)})"
        if ex == -sympy.S.Half:
            fn = "torch.rsqrt" if self.is_tensor(base) else "1.0/math.sqrt"
            return f"{fn}({self._print(base)})"
        if ex == -1:
            return f"1.0/{b}"
        if ex == 2:
            return f"({b}*{b})" if base.is_Symbol else f"{b}**2"
        return f"{b}**{self.parenthesize(ex, 60)}"

    def _print_Relational(self, e: sympy.core.relational.Relational) -> str:
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[e.rel_op]
        lhs, rhs = self._print(e.lhs), self._print(e.rhs)
        # a tensor compared with a number: the number as a bound 0-d tensor (no per-call
        # conversion of a Python scalar)
        if self.constant is not None and self.is_tensor(e.lhs) and e.rhs.is_number \
                and not e.rhs.atoms(rand, randn):
            rhs = f"{self.constant(float(e.rhs))}"
        return f"({lhs} {op} {rhs})"

    def _print_Not(self, e: sympy.Not) -> str:
        a = e.args[0]
        return f"(~{self._print(a)})" if self.is_tensor(a) else f"(not {self._print(a)})"

    def _print_Piecewise(self, e: sympy.Piecewise) -> str:
        args = list(e.args)
        if args[-1].cond != sympy.true:
            raise ValueError(f"Piecewise without a default branch: {e}")
        out = self._print(args[-1].expr)
        tensor = self.is_tensor(e)
        for expr, cond in reversed(args[:-1]):
            if tensor:
                out = f"_where({self._print(cond)}, {self._print(expr)}, {out})"
            else:
                out = f"({self._print(expr)} if {self._print(cond)} else {out})"
        return out

    def _print_Mod(self, e: sympy.Mod) -> str:
        a, b = e.args
        if self.is_tensor(e):
            return f"torch.remainder({self._print(a)}, {self._print(b)})"
        return f"({self.parenthesize(a, 60)} % {self.parenthesize(b, 60)})"

    def _print_Min(self, e: sympy.Min) -> str:
        return self._minmax("_minimum", "min", e)

    def _print_Max(self, e: sympy.Max) -> str:
        return self._minmax("_maximum", "max", e)

    def _minmax(self, tfn: str, pfn: str, e: sympy.Basic) -> str:
        return self._fold(tfn if self.is_tensor(e) else pfn, e)

    # ------------------------------------------------------------- functions
    def _print_Function(self, e: sympy.Function) -> str:
        name = type(e).__name__
        tensor = self.is_tensor(e)
        table = _TORCH if tensor else _MATH
        if name == "log" and len(e.args) == 2:
            return f"({self._print(sympy.log(e.args[0]))}/{repr(float(sympy.log(e.args[1])))})"
        if name in table:
            return f"{table[name]}({', '.join(self._print(a) for a in e.args)})"
        raise ValueError(f"the torch printer cannot print function {name!r}")

    def _print_clip(self, e: clip) -> str:
        x, lo, hi = (self._print(a) for a in e.args)
        return f"_clip({x}, {lo}, {hi})"

    def _print_exprel(self, e: exprel) -> str:
        x = e.args[0]
        if self.is_tensor(x):
            return f"_exprel({self._print(x)})"
        return f"_exprel_s({self._print(x)})"

    def _print_sigmoid(self, e: sigmoid) -> str:
        x = self._print(e.args[0])
        if self.is_tensor(e):
            return f"torch.sigmoid({x})"
        return f"(0.5 + 0.5*math.tanh(0.5*({x})))"

    def _print_rand(self, e: rand) -> str:
        return f"torch.rand({self.rand_shape}, generator=GEN, device=DEVICE, dtype=DTYPE)"

    def _print_randn(self, e: randn) -> str:
        return f"torch.randn({self.rand_shape}, generator=GEN, device=DEVICE, dtype=DTYPE)"


def print_expr(expr: sympy.Basic, names: Mapping[str, str], tensors: set[str],
               rand_shape: str = "SHAPE") -> str:
    """Convenience: print one expression."""
    return TorchPrinter(names, tensors, rand_shape).doprint(expr)
