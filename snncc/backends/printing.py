"""What the expression printers of all targets share.

:class:`TargetPrinter` holds everything target-independent: the name mapping (symbol ->
code), numbers, truth values, relations, ``and``/``or``, min/max folding, where
(``Piecewise``), square roots and small integer powers, the hook for random draws, and the
dispatch of every function (elementary, IR, ``Mod``, ``Min``/``Max``, ``where``) through
the printer's **function table**: name -> a template with ``{0}``, ``{1}``... for the
printed arguments, or a callable ``(printer, *args)`` for the few that need logic.

Two syntax branches sit on it: :class:`PythonSyntax` (torch and Triton code: ``float('inf')``,
``True``, ``&``/``|``, ``x**y``) and :class:`CSyntax` (C99 / C++ / CUDA C: ``INFINITY``,
``true``, ``&&``/``||``/``!``, ``c ? a : b``, double literals or ``f``-suffixed float
ones). A target printer is a branch, a sympy printer, a table, and what is genuinely its
own; :class:`CPrinter` is the C branch with the ``<math.h>`` table that the C++ and CUDA
backends specialise by a few entries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from string import Template
from typing import Any, ClassVar

import sympy
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from snncc.ir.functions import rand, randn

#: a function table entry: a template of the printed arguments, or a callable that
#: prints the call from the printer and the argument expressions
Entry = str | Callable[..., str]

#: sympy classes whose own ``_print_<name>`` in sympy's printers would bypass the table
ROUTED = ("exp", "log", "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan",
          "floor", "ceiling", "sign", "Abs", "erf", "expm1", "log1p", "Mod", "Heaviside")

#: the table entries every printer has beyond functions: ``where`` prints a Piecewise
#: branch (condition, then, else), ``sqrt``/``rsqrt`` the powers 1/2 and -1/2, and the
#: binary ``Min``/``Max`` are folded over all arguments
SYNTAX_ENTRIES = ("where", "sqrt", "rsqrt", "Min", "Max")


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


def c_float(x: float, suffix: str = "") -> str:
    """``x`` as a C literal: ``repr`` digits (the shortest that read back as the same
    double) plus ``suffix`` (``"f"`` for a ``float`` literal), or ``INFINITY``,
    ``(-INFINITY)``, ``NAN`` from ``<math.h>``."""
    x = float(x)
    if math.isfinite(x):
        return repr(x) + suffix
    if math.isnan(x):
        return "NAN"
    return "INFINITY" if x > 0 else "(-INFINITY)"


class TargetPrinter:
    """The target-independent part of every printer (a mixin before a sympy printer).

    Subclasses set :attr:`target`, :attr:`functions`, the syntax tokens, and
    :meth:`_number`; a syntax branch or target overrides what its language spells
    differently.

    Args:
        names: symbol name -> the code holding its value.
        settings: the sympy printer's settings.
        draw: called with a stream number and ``"rand"``/``"randn"``; returns the code of
            one counter-based draw (``None``: draws are refused).
        streams: the stream counter shared by all draw sites of a network (a one-item
            list, incremented in place).
    """

    target: ClassVar[str]
    functions: Mapping[str, Entry]
    #: evaluate number-valued subexpressions (``log(2)``, ``sqrt(2)/3``) here in double
    #: precision, where a call on a literal in generated code would run in its dtype
    fold_numbers: ClassVar[bool] = False
    TRUE: ClassVar[str]
    FALSE: ClassVar[str]
    AND: ClassVar[str]
    OR: ClassVar[str]

    def __init__(self, names: Mapping[str, str], settings: dict[str, Any],
                 draw: Callable[[int, str], str] | None = None,
                 streams: list[int] | None = None) -> None:
        super().__init__(settings)  # type: ignore[call-arg]  # the sympy printer
        self.names = dict(names)
        self.draw = draw
        self.streams = streams if streams is not None else [0]

    def _print(self, expr: object, **kwargs: object) -> str:
        if self.fold_numbers and isinstance(expr, sympy.Expr) and not expr.is_Number \
                and expr.is_number and not expr.atoms(rand, randn):
            value = complex(expr.evalf(30))
            if value.imag == 0.0:
                return self._number(value.real)
        return super()._print(expr, **kwargs)  # type: ignore[misc]

    def _number(self, x: float) -> str:
        """The literal of the double ``x`` in this target."""
        raise TypeError(f"{type(self).__name__} has no syntax branch")

    # ------------------------------------------------------------- table dispatch
    def _table(self, e: sympy.Basic) -> Mapping[str, Entry]:
        """The function table for the call ``e`` (a target may choose by ``e``)."""
        return self.functions

    def _call(self, name: str, e: sympy.Basic, *args: sympy.Basic) -> str:
        """The table entry ``name`` applied to ``args`` (each printed once, in order)."""
        table = self._table(e)
        if name not in table:
            raise ValueError(f"the {self.target} printer cannot print function {name!r}")
        entry = table[name]
        if callable(entry):
            return entry(self, *args)
        return entry.format(*(self._print(a) for a in args))

    def _print_Function(self, e: sympy.Function) -> str:
        name = type(e).__name__
        if name == "log" and len(e.args) == 2:  # log(x, b), unevaluated
            return (f"({self._print(sympy.log(e.args[0]))}/"
                    f"{self._number(float(sympy.log(e.args[1])))})")
        return self._call(name, e, *e.args)

    def _route(self, e: sympy.Function) -> str:
        return self._print_Function(e)

    def _print_Min(self, e: sympy.Min) -> str:
        return self._fold("Min", e)

    def _print_Max(self, e: sympy.Max) -> str:
        return self._fold("Max", e)

    def _fold(self, name: str, e: sympy.Basic) -> str:
        """``f(f(a, b), c)...`` over the arguments of ``e``, ``f`` the binary entry."""
        entry = self._table(e)[name]
        assert isinstance(entry, str)  # Min/Max entries are templates
        args = [self._print(a) for a in e.args]
        out = args[0]
        for a in args[1:]:
            out = entry.format(out, a)
        return out

    # ------------------------------------------------------------- atoms
    def _print_Symbol(self, e: sympy.Symbol) -> str:
        if e.name not in self.names:
            raise KeyError(f"no value bound to symbol {e.name!r} in generated "
                           f"{self.target} code")
        return self.names[e.name]

    def _print_Float(self, e: sympy.Float) -> str:
        return self._number(float(e))

    def _print_Rational(self, e: sympy.Rational) -> str:
        return self._number(float(e.p) / float(e.q))

    def _print_Half(self, e: sympy.Rational) -> str:
        return self._number(0.5)

    def _print_Infinity(self, e: sympy.Basic) -> str:
        return self._number(math.inf)

    def _print_NegativeInfinity(self, e: sympy.Basic) -> str:
        return self._number(-math.inf)

    def _print_NaN(self, e: sympy.Basic) -> str:
        return self._number(math.nan)

    def _print_ComplexInfinity(self, e: sympy.Basic) -> str:
        raise ValueError("complex infinity (a division by zero) has no value in generated "
                         "code; the specialize pass refuses it with the parameters to fix")

    def _print_Pi(self, e: sympy.Basic) -> str:
        return self._number(math.pi)

    def _print_Exp1(self, e: sympy.Basic) -> str:
        return self._number(math.e)

    def _print_BooleanTrue(self, e: sympy.Basic) -> str:
        return self.TRUE

    def _print_BooleanFalse(self, e: sympy.Basic) -> str:
        return self.FALSE

    # ------------------------------------------------------------- operators
    def _print_And(self, e: sympy.And) -> str:
        return "(" + self.AND.join(self._print(a) for a in e.args) + ")"

    def _print_Or(self, e: sympy.Or) -> str:
        return "(" + self.OR.join(self._print(a) for a in e.args) + ")"

    def _print_Relational(self, e: sympy.core.relational.Relational) -> str:
        return f"({self._print(e.lhs)} {e.rel_op} {self._print(e.rhs)})"

    def _print_Piecewise(self, e: sympy.Piecewise) -> str:
        args = list(e.args)
        if args[-1].cond != sympy.true:
            raise ValueError(f"Piecewise without a default branch: {e}")
        out = self._default_branch(args[-1].expr)
        entry = self._table(e)["where"]
        assert isinstance(entry, str)  # where entries are templates
        for expr, cond in reversed(args[:-1]):
            c = self._print(cond)
            out = entry.format(c, self._print(expr), out)
        return out

    def _default_branch(self, expr: sympy.Basic) -> str:
        """The code of a Piecewise's last (``True``) branch."""
        return self._print(expr)

    def _print_Pow(self, e: sympy.Pow, rational: bool = False) -> str:
        base, ex = e.args
        if ex == sympy.S.Half:
            return self._call("sqrt", e, base)
        if ex == -sympy.S.Half:
            return self._call("rsqrt", e, base)
        return self._power(e)

    def _power(self, e: sympy.Pow) -> str:
        """``e`` (``base**ex``) for an exponent other than +-1/2."""
        raise TypeError(f"{type(self).__name__} has no syntax branch")

    def _product(self, base: sympy.Expr, ex: sympy.Expr) -> str | None:
        """``base**k`` for an integer ``1 <= |k| <= 8`` as ``(b*b*...)`` or
        ``(1.0/(b*b*...))``, rounded like the multiplications it is; ``None`` for other
        exponents."""
        if not (ex.is_Integer and 1 <= abs(int(ex)) <= 8):
            return None
        b = self.parenthesize(base, PRECEDENCE["Pow"])  # type: ignore[attr-defined]
        prod = "*".join([b] * abs(int(ex)))
        return f"({self._number(1.0)}/({prod}))" if int(ex) < 0 else f"({prod})"

    # ------------------------------------------------------------- random draws
    def _print_rand(self, e: rand) -> str:
        return self._random_draw("rand")

    def _print_randn(self, e: randn) -> str:
        return self._random_draw("randn")

    def _random_draw(self, kind: str) -> str:
        """A counter-based draw: each draw site gets the next stream number, so no two
        draws share a counter."""
        if self.draw is None:
            raise ValueError(f"{kind}() is not available here")
        k = self.streams[0]
        self.streams[0] += 1
        return self.draw(k, kind)


# the sympy printers print these classes with their own methods: send them to the table
for _name in ROUTED:
    setattr(TargetPrinter, f"_print_{_name}", TargetPrinter._route)


class PythonSyntax(TargetPrinter):
    """Python syntax (torch and Triton code): numbers as Python floats (full double
    precision), integers as Python ints, ``True``/``False``, element-wise ``&``/``|`` of
    conditions, ``x**y``."""

    TRUE = "True"
    FALSE = "False"
    AND = " & "
    OR = " | "

    def _number(self, x: float) -> str:
        return py_float(x)

    def _print_Integer(self, e: sympy.Integer) -> str:
        return str(int(e))

    def _power(self, e: sympy.Pow) -> str:
        base, ex = (self.parenthesize(a, PRECEDENCE["Pow"]) for a in e.args)  # type: ignore[attr-defined]
        return f"{base}**{ex}"


class CSyntax(TargetPrinter):
    """C syntax (C99, C++, CUDA C): numbers as double literals (or ``float`` ones with
    the ``f`` :attr:`suffix`), ``true``/``false``, ``&&``/``||``/``!``, ternary ``where``,
    small integer powers as products and others through the table's ``Pow``; number-valued
    subexpressions are evaluated here, in double precision."""

    TRUE = "true"
    FALSE = "false"
    AND = " && "
    OR = " || "
    fold_numbers = True
    suffix = ""  # "f": float literals

    def _number(self, x: float) -> str:
        return c_float(x, self.suffix)

    def _print_Integer(self, e: sympy.Integer) -> str:
        # a double literal: no integer division in generated code
        return self._number(float(int(e)))

    def _print_Not(self, e: sympy.Not) -> str:
        return f"(!{self._print(e.args[0])})"

    def _power(self, e: sympy.Pow) -> str:
        product = self._product(*e.args)
        return product if product is not None else self._call("Pow", e, *e.args)


#: C type name -> the suffix of its literals and ``<math.h>`` functions
C_TYPES = {"double": "", "float": "f"}

#: sympy function -> ``<math.h>`` function of one argument (``f``-suffixed for float)
_C_MATH = {"exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan",
           "tanh": "tanh", "sinh": "sinh", "cosh": "cosh", "asin": "asin", "acos": "acos",
           "atan": "atan", "floor": "floor", "ceiling": "ceil", "Abs": "fabs", "erf": "erf",
           "expm1": "expm1", "log1p": "log1p", "sqrt": "sqrt"}

# inline helpers of generated C code: what <math.h> lacks, each argument read once
_C_HELPERS = Template("""\
$q $T snncc_sign$f($T x) { return (x > 0) - (x < 0); }
/* Python's (and torch.remainder's) modulo: the result takes the sign of b, where fmod
   takes the sign of a */
$q $T snncc_floormod$f($T a, $T b) {
    $T r = fmod$f(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
/* (exp(x) - 1)/x without cancellation; 1 at x = 0 */
$q $T snncc_exprel$f($T x) { return x == 0 ? 1 : expm1$f(x) / x; }
/* 1/(1 + exp(-x)) without overflow for large |x| */
$q $T snncc_sigmoid$f($T x) {
    $T z = exp$f(-fabs$f(x));
    return x >= 0 ? 1 / (1 + z) : z / (1 + z);
}
""")


def c_functions(dtype: str = "double") -> dict[str, Entry]:
    """The ``<math.h>`` function table of C99/C++ code computing in ``dtype``."""
    f = C_TYPES[dtype]
    table: dict[str, Entry] = {name: f"{fn}{f}({{0}})" for name, fn in _C_MATH.items()}
    table.update({
        "rsqrt": f"({c_float(1.0, f)}/sqrt{f}({{0}}))",
        "Pow": f"pow{f}({{0}}, {{1}})",
        "Min": f"fmin{f}({{0}}, {{1}})", "Max": f"fmax{f}({{0}}, {{1}})",
        "where": "({0} ? {1} : {2})",
        "clip": f"fmin{f}(fmax{f}({{0}}, {{1}}), {{2}})",
        "sign": f"snncc_sign{f}({{0}})", "Mod": f"snncc_floormod{f}({{0}}, {{1}})",
        "exprel": f"snncc_exprel{f}({{0}})", "sigmoid": f"snncc_sigmoid{f}({{0}})",
    })
    return table


class CPrinter(CSyntax, StrPrinter):
    """Prints IR expressions as C99/C++ code on ``<math.h>`` (``fmin``/``fmax`` for
    min/max, so a NaN operand gives the other one; ``floor(a/b)`` for ``//``).

    The helpers that the table names (``snncc_exprel``, ...) are in :meth:`helpers`, to
    put before the generated functions. A CUDA C printer is this class with
    :attr:`qualifier` ``"static __device__ inline"``.

    Args:
        names: symbol name -> the C expression holding its value.
        dtype: ``"double"`` or ``"float"``, the type that generated code computes in.
        draw: called with a stream number and ``"rand"``/``"randn"``; returns the code
            of one counter-based draw.
        streams: the shared stream counter (a one-item list, incremented in place).
    """

    printmethod = "_ccode_snncc"
    target = "C"
    qualifier = "static inline"

    def __init__(self, names: Mapping[str, str], dtype: str = "double",
                 draw: Callable[[int, str], str] | None = None,
                 streams: list[int] | None = None) -> None:
        if dtype not in C_TYPES:
            raise ValueError(f"C code computes in one of {sorted(C_TYPES)}, not {dtype!r}")
        super().__init__(names, {"order": "none"}, draw, streams)
        self.dtype = dtype
        self.suffix = C_TYPES[dtype]
        self.functions = c_functions(dtype)

    def helpers(self) -> str:
        """The C source of the inline helpers the printed code may call."""
        return _C_HELPERS.substitute(q=self.qualifier, T=self.dtype, f=self.suffix)
