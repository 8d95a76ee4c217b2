"""The torch printer: sympy expressions -> torch (Python) source.

The one place that decides how an IR expression looks in generated torch code. Names
are mapped to local variables by ``names``; an expression that involves no tensor is
printed with Python's ``math`` (:data:`SCALAR_FUNCTIONS`) so constants and time-dependent
scalars stay cheap. Helpers (``_where``, ``_clip``, ``_exprel``, ...) are defined in
``templates/torch/_helpers.j2``; a printer records in :attr:`TorchPrinter.helpers` those it
printed (and ``math``), so a module defines and imports only what its code calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import sympy
from sympy.printing.pycode import PythonCodePrinter

from snncc.backends.printing import Entry, PythonSyntax
from snncc.ir.functions import rand, randn


def _python_mod(printer: TorchPrinter, a: sympy.Expr, b: sympy.Expr) -> str:
    return f"({printer.parenthesize(a, 60)} % {printer.parenthesize(b, 60)})"


#: function table of expressions that involve a tensor
FUNCTIONS: dict[str, Entry] = {
    "exp": "torch.exp({0})", "log": "torch.log({0})", "sin": "torch.sin({0})",
    "cos": "torch.cos({0})", "tan": "torch.tan({0})", "tanh": "torch.tanh({0})",
    "sinh": "torch.sinh({0})", "cosh": "torch.cosh({0})", "asin": "torch.asin({0})",
    "acos": "torch.acos({0})", "atan": "torch.atan({0})", "floor": "torch.floor({0})",
    "ceiling": "torch.ceil({0})", "sign": "torch.sign({0})", "Abs": "torch.abs({0})",
    "sqrt": "torch.sqrt({0})", "rsqrt": "torch.rsqrt({0})", "erf": "torch.erf({0})",
    "Mod": "torch.remainder({0}, {1})", "Min": "_minimum({0}, {1})",
    "Max": "_maximum({0}, {1})", "where": "_where({0}, {1}, {2})",
    "clip": "_clip({0}, {1}, {2})", "exprel": "_exprel({0})",
    "sigmoid": "torch.sigmoid({0})",
}
#: function table of expressions of Python numbers only
SCALAR_FUNCTIONS: dict[str, Entry] = {
    "exp": "math.exp({0})", "log": "math.log({0})", "sin": "math.sin({0})",
    "cos": "math.cos({0})", "tan": "math.tan({0})", "tanh": "math.tanh({0})",
    "sinh": "math.sinh({0})", "cosh": "math.cosh({0})", "asin": "math.asin({0})",
    "acos": "math.acos({0})", "atan": "math.atan({0})", "floor": "math.floor({0})",
    "ceiling": "math.ceil({0})", "sign": "_sign({0})", "Abs": "abs({0})",
    "sqrt": "math.sqrt({0})", "rsqrt": "1.0/math.sqrt({0})", "erf": "math.erf({0})",
    "Mod": _python_mod, "Min": "min({0}, {1})", "Max": "max({0}, {1})",
    "where": "({1} if {0} else {2})", "clip": "_clip({0}, {1}, {2})",
    "exprel": "_exprel_s({0})", "sigmoid": "(0.5 + 0.5*math.tanh(0.5*({0})))",
}
#: what an entry of :data:`FUNCTIONS` calls besides torch: helpers of
#: ``templates/torch/_helpers.j2``
CALLS: dict[str, tuple[str, ...]] = {
    "Min": ("_minimum",), "Max": ("_maximum",), "where": ("_where",), "clip": ("_clip",),
    "exprel": ("_exprel",),
}
#: what an entry of :data:`SCALAR_FUNCTIONS` calls besides builtins: helpers and ``math``
SCALAR_CALLS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin",
                     "acos", "atan", "floor", "ceiling", "sqrt", "rsqrt", "erf", "sigmoid"),
                    ("math",)),
    "sign": ("_sign",), "clip": ("_clip",), "exprel": ("_exprel_s",),
}
#: what a helper of ``templates/torch/_helpers.j2`` calls in turn
HELPER_CALLS: dict[str, tuple[str, ...]] = {
    "_where": ("_ZERO",), "_minimum": ("_ZERO",), "_maximum": ("_ZERO",),
    "_clip": ("_minimum", "_maximum"), "_exprel_s": ("math",),
}


class TorchPrinter(PythonSyntax, PythonCodePrinter):
    """Prints IR expressions as torch code.

    Args:
        names: symbol name -> the Python expression that holds its value (a local tensor
            such as ``P_v``, or a scalar such as ``t``).
        tensors: the symbol names whose values are tensors.
        rand_shape: the shape expression used for ``rand()`` / ``randn()`` draws.
        constant: number -> the name of a bound 0-d tensor holding it (for comparisons
            of a tensor with a number).

    :attr:`helpers` collects the helpers and modules that the printed code calls (with
    what they call in turn).
    """

    printmethod = "_torchcode"
    target = "torch"
    functions = FUNCTIONS
    scalar_functions = SCALAR_FUNCTIONS
    calls = CALLS
    scalar_calls = SCALAR_CALLS

    def __init__(self, names: Mapping[str, str], tensors: set[str], rand_shape: str = "SHAPE",
                 constant: Callable[[float], str] | None = None) -> None:
        super().__init__(names, {"fully_qualified_modules": False, "inline": True,
                                 "allow_unknown_functions": True})
        self.tensors = set(tensors)
        self.rand_shape = rand_shape
        self.constant = constant
        self.helpers: set[str] = set()

    def helper(self, name: str) -> str:
        """``name`` (a helper of ``_helpers.j2`` or a module), recorded in :attr:`helpers`
        with what it calls."""
        if name not in self.helpers:
            self.helpers.add(name)
            for inner in HELPER_CALLS.get(name, ()):
                self.helper(inner)
        return name

    def _uses(self, e: sympy.Basic, name: str) -> None:
        """Record what the table entry ``name`` for the call ``e`` calls."""
        for callee in (self.calls if self.is_tensor(e) else self.scalar_calls).get(name, ()):
            self.helper(callee)

    def _call(self, name: str, e: sympy.Basic, *args: sympy.Basic) -> str:
        self._uses(e, name)
        return super()._call(name, e, *args)

    def _fold(self, name: str, e: sympy.Basic) -> str:
        self._uses(e, name)
        return super()._fold(name, e)

    def _print_Piecewise(self, e: sympy.Piecewise) -> str:
        if len(e.args) > 1:  # a lone default branch prints no call
            self._uses(e, "where")
        return super()._print_Piecewise(e)

    def is_tensor(self, e: sympy.Basic) -> bool:
        """Whether ``e`` involves a tensor (a draw, or a symbol in :attr:`tensors`)."""
        if e.atoms(rand, randn):
            return True
        return any(s.name in self.tensors for s in e.free_symbols)

    def _table(self, e: sympy.Basic) -> Mapping[str, Entry]:
        return self.functions if self.is_tensor(e) else self.scalar_functions

    def _print_Pow(self, e: sympy.Pow, rational: bool = False) -> str:
        base, ex = e.args
        b = self.parenthesize(base, 60)
        if ex == -1:
            return f"1.0/{b}"
        if ex == 2:
            return f"({b}*{b})" if base.is_Symbol else f"{b}**2"
        return super()._print_Pow(e, rational)

    def _print_Relational(self, e: sympy.core.relational.Relational) -> str:
        # a tensor compared with a number: the number as a bound 0-d tensor (no per-call
        # conversion of a Python scalar)
        if self.constant is not None and self.is_tensor(e.lhs) and e.rhs.is_number \
                and not e.rhs.atoms(rand, randn):
            return f"({self._print(e.lhs)} {e.rel_op} {self.constant(float(e.rhs))})"
        return super()._print_Relational(e)

    def _print_Not(self, e: sympy.Not) -> str:
        a = e.args[0]
        return f"(~{self._print(a)})" if self.is_tensor(a) else f"(not {self._print(a)})"

    def _random_draw(self, kind: str) -> str:
        return f"torch.{kind}({self.rand_shape}, generator=GEN, device=DEVICE, dtype=DTYPE)"


def print_expr(expr: sympy.Basic, names: Mapping[str, str], tensors: set[str],
               rand_shape: str = "SHAPE") -> str:
    """Convenience: print one expression."""
    return TorchPrinter(names, tensors, rand_shape).doprint(expr)
