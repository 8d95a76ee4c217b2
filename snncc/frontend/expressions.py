"""Expressions and statements: parsing text into sympy, with dimension checking.

An expression is parsed once into a Python ``ast`` tree (so every name and operator
keeps its line and column); it becomes a sympy expression when the names it uses are
known (:meth:`Expression.to_sympy`), and the same walk checks dimensions, so a unit
mismatch or an unknown name is reported at its column in the source.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypeVar

import sympy

from snncc.errors import EquationSyntaxError, ModelError, UnitError, UnknownNameError
from snncc.ir.functions import clip, exprel, rand, randn
from snncc.ir.statements import Statement
from snncc.units import DIMENSIONLESS, Dimension, char_column

SECOND = Dimension(s=1)
_T = TypeVar("_T")
#: the deepest nesting of operations an expression may have (Python's own parser stops
#: at 200 brackets; sympy and the converter recurse once or twice per level)
MAX_DEPTH = 100
#: the most operations (ast nodes) one expression or statement block may have
MAX_NODES = 20_000
#: numbers beyond this magnitude do not fit a float64
_FLOAT_MAX = 1.7976931348623157e308

#: functions usable in expressions: name -> (number of arguments, builder)
_UNARY_DIMLESS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "exp": sympy.exp, "log": sympy.log, "log10": lambda x: sympy.log(x, 10),
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "tanh": sympy.tanh,
    "sinh": sympy.sinh, "cosh": sympy.cosh, "arcsin": sympy.asin, "arccos": sympy.acos,
    "arctan": sympy.atan, "expm1": lambda x: sympy.exp(x) - 1, "exprel": exprel,
    "log1p": lambda x: sympy.log(1 + x),
}
_SAME_DIM = {"abs": sympy.Abs, "floor": sympy.floor, "ceil": sympy.ceiling,
             "sign": sympy.sign, "int": lambda x: _int(x)}


def _int(x: sympy.Expr) -> sympy.Expr:
    """``int(x)``: truncation toward zero; a condition becomes 1 or 0 (Brian2's
    ``int(t > t0)`` idiom)."""
    if isinstance(x, (sympy.core.relational.Relational, sympy.logic.boolalg.BooleanFunction,
                      sympy.logic.boolalg.BooleanAtom)):  # not Symbol (also a Boolean)
        return sympy.Piecewise((1, x), (0, True))
    return sympy.sign(x) * sympy.floor(sympy.Abs(x))


FUNCTION_NAMES = sorted([*_UNARY_DIMLESS, *_SAME_DIM, "sqrt", "clip", "where", "ifelse",
                         "rand", "randn", "minimum", "maximum"])


@dataclass(frozen=True)
class NameInfo:
    """What a name in an expression stands for.

    ``symbol`` is what the name becomes in sympy (a Symbol for variables and
    parameters, a number for units and folded constants); ``dim`` is its dimension or
    ``None`` when units are not checked.
    """

    symbol: sympy.Expr
    dim: Dimension | None


Resolver = Callable[[str], "NameInfo | None"]


def sym(name: str) -> sympy.Symbol:
    """The sympy symbol snncc uses for a variable name (always real)."""
    return sympy.Symbol(name, real=True)


@dataclass
class Expression:
    """An expression string, parsed and positioned inside its source text.

    ``source`` is the whole text (model equations, a statement block) and ``line`` /
    ``column`` (1-based) where this expression starts in it; errors point there.
    """

    text: str
    source: str = ""
    line: int = 1
    column: int = 1
    where: str | None = None
    tree: ast.expr = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _need_str(self.text, self.where, "an expression such as 'v > Vt'")
        if not self.source:
            self.source = self.text
        stripped = self.text.strip()
        if not stripped:
            raise self.error("empty expression", 0, expected="an expression")
        self.parsed_text = self.text
        self.tree = _parse(self.text, "eval", self).body  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ errors
    def error(self, message: str, col_offset: int, *, expected: str | None = None,
              kind: type[Exception] = EquationSyntaxError, line_offset: int = 0) -> Exception:
        """An error located at ``col_offset`` characters into this expression."""
        line = self.line + line_offset
        column = (self.column if line_offset == 0 else 1) + col_offset
        if kind is EquationSyntaxError:
            return EquationSyntaxError(message, source=self.source, line=line, column=column,
                                       expected=expected, where=self.where)
        err = EquationSyntaxError(message, source=self.source, line=line, column=column,
                                  expected=expected, where=self.where)
        return _located(kind, err)

    def names(self) -> set[str]:
        """Every name used in the expression (variables, units, functions excluded)."""
        return {n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name)
                and not _is_func_name(n, self.tree)}

    # --------------------------------------------------------------- to sympy
    def to_sympy(self, resolve: Resolver, *, check_units: bool = True
                 ) -> tuple[sympy.Expr, Dimension | None]:
        """The sympy expression and its dimension (None if units are unchecked)."""
        conv = _Converter(self, resolve, check_units)
        return conv.guarded(self.tree, lambda: conv.convert(self.tree))


def _need_str(text: object, where: str | None, example: str) -> None:
    if not isinstance(text, str):
        raise ModelError(f"{where or 'code'}: expected a string with {example}, got "
                         f"{type(text).__name__} {text!r}")


def _located(kind: type[Exception], err: EquationSyntaxError) -> Exception:
    """An error of class ``kind`` (UnitError, UnknownNameError, ...) with the message and
    the position attributes (``line``, ``column``, ``where``, ...) of ``err``."""
    out = kind(str(err))
    for attr in ("line", "column", "expected", "source", "where", "bare_message"):
        setattr(out, attr, getattr(err, attr))
    return out


def _is_func_name(node: ast.Name, tree: ast.AST) -> bool:
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and n.func is node:
            return True
    return False


def _parse(text: str, mode: str, owner: Expression | StatementBlock) -> ast.AST:
    try:
        tree = ast.parse(text, mode=mode)
    except SyntaxError as exc:
        # Python reports SyntaxError offsets in characters (ast nodes count bytes)
        lineno = (exc.lineno or 1) - 1
        col = max((exc.offset or 1) - 1, 0)
        msg = (exc.msg or "invalid syntax").replace("invalid syntax. ", "")
        if msg.startswith("invalid syntax. Perhaps"):
            msg = "invalid syntax"
        if "Exceeds the limit" in msg:
            msg = "an integer literal with too many digits"
        raise owner.error(msg, col, expected="a valid expression", line_offset=lineno
                          ) from None
    except (RecursionError, MemoryError):
        raise owner.error(f"nested more than {MAX_DEPTH} levels deep", 0,
                          expected="a simpler expression (use subexpressions)") from None
    lines = _ast_lines(text)

    def char_col(lineno: int, byte_col: int) -> int:
        return char_column(lines[lineno - 1] if 0 < lineno <= len(lines) else "", byte_col)

    # bound the size: a deeper or larger expression is refused here, before sympy
    # (which recurses per level) sees it
    for root in tree.body if isinstance(tree, ast.Module) else [tree]:  # per statement
        _check_size(root, owner, char_col)

    # '^' is XOR in Python: report it when the text is read, at the operator
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
            lineno = node.left.end_lineno or 1
            col = lines[lineno - 1].find("^", char_col(lineno, node.left.end_col_offset or 0))
            if col < 0:
                lineno, col = node.lineno, char_col(node.lineno, node.col_offset)
            raise owner.error("'^' is not a power", col, expected="'**' for powers",
                              line_offset=lineno - 1)
    return tree


def _ast_lines(text: str) -> list[str]:
    """The lines of ``text`` as Python's parser numbers them (``str.splitlines`` also
    breaks at form feeds and unicode separators)."""
    return re.split(r"\r\n|\r|\n", text)


def _check_size(root: ast.AST, owner: Expression | StatementBlock,
                char_col: Callable[[int, int], int]) -> None:
    """Refuse an expression deeper than MAX_DEPTH or larger than MAX_NODES."""
    count, stack = 0, [(root, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH or count > MAX_NODES:
            lineno = getattr(node, "lineno", 1)
            what = (f"nested more than {MAX_DEPTH} levels deep (a sum of n terms is n "
                    "levels)" if depth > MAX_DEPTH else f"longer than {MAX_NODES} operations")
            raise owner.error(what, char_col(lineno, getattr(node, "col_offset", 0)),
                              expected="a simpler expression (use subexpressions)",
                              line_offset=lineno - 1)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


class _Converter:
    """One walk over the ast: build sympy, infer dimensions, report errors in place."""

    def __init__(self, expr: Expression | StatementBlock, resolve: Resolver,
                 check_units: bool) -> None:
        self.expr = expr
        self.resolve = resolve
        self.check = check_units
        self.line_offset = 0

    def err(self, node: ast.AST, message: str, kind: type[Exception] = EquationSyntaxError,
            expected: str | None = None) -> Exception:
        lineno = getattr(node, "lineno", 1)
        lines = _ast_lines(self.expr.parsed_text)
        line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
        col = char_column(line, getattr(node, "col_offset", 0))
        return self.expr.error(message, col, expected=expected, kind=kind,
                               line_offset=lineno - 1 + self.line_offset)

    def guarded(self, node: ast.AST, work: Callable[[], _T]) -> _T:
        """``work()``, with sympy's failures on absurd input (recursion, memory, overflow)
        reported as an error at ``node``."""
        try:
            return work()
        except RecursionError:
            raise self.err(node, "too deeply nested to convert",
                           expected="a simpler expression (use subexpressions)") from None
        except (MemoryError, OverflowError):
            raise self.err(node, "a number too large to compute with",
                           expected="numbers within the float64 range (about 1e308)"
                           ) from None

    def number(self, node: ast.AST, r: sympy.Expr, what: str = "this operation"
               ) -> sympy.Expr:
        """``r``, checked: a number result must be finite and real."""
        if r.is_number and not r.has(rand, randn):
            if r is sympy.nan or r.is_finite is False:
                raise self.err(node, f"{what} gives an infinite or undefined value",
                               expected="finite numbers (no division by zero, no log(0))")
            if r.is_extended_real is False:
                raise self.err(node, f"{what} gives a complex number",
                               expected="real numbers (no sqrt or log of a negative number)")
            try:
                big = abs(float(r)) > _FLOAT_MAX
            except (TypeError, ValueError, OverflowError):
                big = False
            if big:
                raise self.err(node, f"{what} gives a number beyond the float64 range",
                               expected="numbers within the float64 range (about 1e308)")
        return r

    def same(self, node: ast.AST, a: Dimension | None, b: Dimension | None, what: str,
             a_expr: sympy.Expr | None = None, b_expr: sympy.Expr | None = None
             ) -> Dimension | None:
        if not self.check or a is None or b is None:
            return a if a is not None else b
        if a == b:
            return a
        # a literal zero fits any dimension
        if a_expr is not None and a_expr == 0:
            return b
        if b_expr is not None and b_expr == 0:
            return a
        raise self.err(node, f"dimension mismatch in {what}: {a} vs {b}", UnitError)

    def dimless(self, node: ast.AST, d: Dimension | None, what: str) -> None:
        if self.check and d is not None and not d.is_dimensionless:
            raise self.err(node, f"{what} must be dimensionless, got {d}", UnitError)

    def convert(self, node: ast.AST) -> tuple[sympy.Expr, Dimension | None]:  # noqa: C901
        none = None if not self.check else DIMENSIONLESS
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return (sympy.true if node.value else sympy.false), none
            if isinstance(node.value, (int, float)):
                v = node.value
                if abs(v) > _FLOAT_MAX or (isinstance(v, float) and not math.isfinite(v)):
                    raise self.err(node, "the number is beyond the float64 range",
                                   expected="a number within about 1e308")
                return (sympy.Integer(v) if isinstance(v, int) else sympy.Float(v)), none
            raise self.err(node, f"unexpected constant {node.value!r}", expected="a number")
        if isinstance(node, ast.Name):
            if node.id in FUNCTION_NAMES and self.resolve(node.id) is None:
                raise self.err(node, f"function '{node.id}' used without calling it",
                               expected=f"{node.id}(...)")
            info = self.resolve(node.id)
            if info is None:
                raise self.err(node, f"unknown name '{node.id}'", UnknownNameError,
                               expected="a variable, a parameter (declare it in the "
                               "equations or pass it in params=) or a unit")
            return info.symbol, (info.dim if self.check else None)
        if isinstance(node, ast.UnaryOp):
            x, d = self.convert(node.operand)
            if isinstance(node.op, ast.USub):
                return -_arith(x), d
            if isinstance(node.op, ast.UAdd):
                return x, d
            if isinstance(node.op, ast.Not):
                return sympy.Not(_as_bool(x)), none
            raise self.err(node, "unsupported unary operator")
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.BoolOp):
            parts = [self.convert(v) for v in node.values]
            args = [_as_bool(p[0]) for p in parts]
            fn = sympy.And if isinstance(node.op, ast.And) else sympy.Or
            return fn(*args), none
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.IfExp):
            c, _ = self.convert(node.test)
            a, da = self.convert(node.body)
            b, db = self.convert(node.orelse)
            a, b = _arith(a), _arith(b)
            d = self.same(node, da, db, "the branches of a conditional", a, b)
            return sympy.Piecewise((a, _as_bool(c)), (b, True)), d
        raise self.err(node, f"unsupported syntax '{type(node).__name__}'",
                       expected="arithmetic, comparisons, and/or/not, function calls")

    def binop(self, node: ast.BinOp) -> tuple[sympy.Expr, Dimension | None]:
        a, da = self.convert(node.left)
        b, db = self.convert(node.right)
        # a condition in arithmetic counts as 1 or 0, as in Brian2 ("60*Hz*(i >= 5)")
        a, b = _arith(a), _arith(b)
        op = node.op
        if isinstance(op, (ast.Div, ast.Mod, ast.FloorDiv)) and b.is_zero:
            raise self.err(node, "division by zero" if not isinstance(op, ast.Mod)
                           else "modulo by zero", expected="a nonzero divisor")
        if isinstance(op, (ast.Add, ast.Sub)):
            d = self.same(node, da, db, "a sum" if isinstance(op, ast.Add) else "a difference",
                          a, b)
            return self.number(node, a + b if isinstance(op, ast.Add) else a - b), d
        if isinstance(op, ast.Mult):
            return self.number(node, a * b), (da * db if self.check and da is not None
                                              and db is not None else None)
        if isinstance(op, ast.Div):
            return self.number(node, a / b), (da / db if self.check and da is not None
                                              and db is not None else None)
        if isinstance(op, ast.Pow):
            d = None
            if self.check and da is not None:
                self.dimless(node.right, db, "an exponent")
                if not da.is_dimensionless:
                    try:
                        if not b.is_number or b.has(rand, randn):
                            raise ValueError
                        d = da ** Fraction(str(sympy.nsimplify(b)))
                    except (ValueError, TypeError, ZeroDivisionError):
                        raise self.err(node.right, "the exponent of a quantity with units "
                                       "must be a rational number", UnitError) from None
                else:
                    d = DIMENSIONLESS
            return self.power(node, a, b), d
        if isinstance(op, ast.Mod):
            d = self.same(node, da, db, "a modulo", a, b)
            return self.number(node, sympy.Mod(a, b)), d
        if isinstance(op, ast.FloorDiv):
            return self.number(node, sympy.floor(a / b)), (da / db if self.check and da
                                                           and db else None)
        if isinstance(op, ast.BitXor):
            raise self.err(node, "'^' is not a power", expected="'**' for powers")
        raise self.err(node, f"unsupported operator '{type(op).__name__}'")

    def power(self, node: ast.BinOp, a: sympy.Expr, b: sympy.Expr) -> sympy.Expr:
        """``a**b``; for numbers, the size of the result is estimated first (sympy computes
        ``10**10**10`` exactly, which never ends)."""
        if a.is_number and b.is_number and not (a.has(rand, randn) or b.has(rand, randn)):
            if a == 0 and b.is_extended_negative:
                raise self.err(node, "0 to a negative power (a division by zero)",
                               expected="a nonzero base")
            try:
                la, fb = abs(sympy.Float(a, 30)), sympy.Float(b, 30)
                magnitude = float(sympy.log(la, 10) * fb) if la not in (0, 1) else 0.0
            except (TypeError, ValueError):
                magnitude = 0.0  # complex values are reported by number() below
            if magnitude > 308:
                raise self.err(node, "the power gives a number beyond the float64 range",
                               expected="numbers within the float64 range (about 1e308)")
            if magnitude < -330:
                return sympy.Integer(0)  # below the smallest float64
        return self.number(node, a ** b, "this power")

    def compare(self, node: ast.Compare) -> tuple[sympy.Expr, Dimension | None]:
        left, dl = self.convert(node.left)
        left = _arith(left)
        out = []
        for op, comp in zip(node.ops, node.comparators):
            right, dr = self.convert(comp)
            right = _arith(right)
            self.same(node, dl, dr, "a comparison", left, right)
            fn = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge,
                  ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne}.get(type(op))
            if fn is None:
                raise self.err(node, "unsupported comparison", expected="<, <=, >, >=, ==, !=")
            numbers = (left.is_number and right.is_number
                       and not (left.has(rand, randn) or right.has(rand, randn)))
            # numbers are compared now (sympy cannot build Piecewise((1, 0 < 0.001), ...))
            out.append(fn(left, right, evaluate=numbers))
            left, dl = right, dr
        return (out[0] if len(out) == 1 else sympy.And(*out)), (
            DIMENSIONLESS if self.check else None)

    def call(self, node: ast.Call) -> tuple[sympy.Expr, Dimension | None]:  # noqa: C901
        if not isinstance(node.func, ast.Name):
            raise self.err(node, "only plain function calls are allowed",
                           expected="a function name such as exp(...)")
        name = node.func.id
        if node.keywords:
            raise self.err(node, f"{name}() takes no keyword arguments")
        none = None if not self.check else DIMENSIONLESS
        nargs = len(node.args)

        def need(n: int) -> None:
            if nargs != n:
                raise self.err(node, f"{name}() takes {n} argument{'s' if n != 1 else ''}, "
                               f"got {nargs}")

        if name in ("rand", "randn"):
            need(0)
            return (rand.new() if name == "rand" else randn.new()), none
        args = [self.convert(a) for a in node.args]
        # conditions count as 1 or 0 in arithmetic (not where a condition is expected)
        keep = 1 if name in ("where", "ifelse", "int") else 0
        args = [(a if k < keep else _arith(a), d) for k, (a, d) in enumerate(args)]
        if name in _UNARY_DIMLESS:
            need(1)
            self.dimless(node.args[0], args[0][1], f"the argument of {name}()")
            return self.number(node, _UNARY_DIMLESS[name](args[0][0]), f"{name}()"), none
        if name in _SAME_DIM:
            need(1)
            return _SAME_DIM[name](args[0][0]), args[0][1]
        if name == "sqrt":
            need(1)
            d = args[0][1]
            return self.number(node, sympy.sqrt(args[0][0]), "sqrt()"), (
                d ** Fraction(1, 2) if d is not None else None)
        if name == "clip":
            need(3)
            d = self.same(node, args[0][1], args[1][1], "clip()", args[0][0], args[1][0])
            d = self.same(node, d, args[2][1], "clip()", None, args[2][0])
            return clip(*(a[0] for a in args)), d
        if name in ("minimum", "maximum"):
            need(2)
            d = self.same(node, args[0][1], args[1][1], f"{name}()", args[0][0], args[1][0])
            fn = sympy.Min if name == "minimum" else sympy.Max
            return fn(args[0][0], args[1][0]), d
        if name in ("where", "ifelse"):
            need(3)
            d = self.same(node, args[1][1], args[2][1], f"the branches of {name}()",
                          args[1][0], args[2][0])
            return sympy.Piecewise((args[1][0], _as_bool(args[0][0])),
                                   (args[2][0], True)), d
        raise self.err(node.func, f"unknown function '{name}'", UnknownNameError,
                       expected="one of " + ", ".join(FUNCTION_NAMES))


def _arith(x: sympy.Expr) -> sympy.Expr:
    """``x`` as a number: a condition counts as 1 or 0, as in Brian2 (``60*Hz*(i >= 5)``)."""
    if isinstance(x, sympy.logic.boolalg.Boolean) and not x.is_Symbol:
        return _int(x)
    return x


def _as_bool(x: sympy.Expr) -> sympy.Expr:
    if isinstance(x, (sympy.core.relational.Relational, sympy.logic.boolalg.BooleanFunction,
                      sympy.logic.boolalg.BooleanAtom)):  # not Symbol: variables are real
        return x
    return sympy.Ne(x, 0)


# ---------------------------------------------------------------------- statements
@dataclass
class StatementBlock:
    """Code such as a reset or ``on_pre``: lines of ``x = e``, ``x += e`` ... (also
    separated by ``;``). Parsed once; converted to :class:`Statement` by
    :meth:`to_statements` when names are known."""

    text: str
    where: str | None = None
    source: str = ""
    line: int = 1
    column: int = 1
    tree: ast.Module = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _need_str(self.text, self.where, "statements such as 'v = Vr'")
        if not self.source:
            self.source = self.text
        self._indent = [len(ln) - len(ln.lstrip()) for ln in self.text.splitlines()] or [0]
        self.parsed_text = _dedent(self.text)
        self.tree = _parse(self.parsed_text, "exec", self)  # type: ignore[assignment]
        for st in self.tree.body:
            if not isinstance(st, (ast.Assign, ast.AugAssign)):
                raise self.error("not a statement", st.col_offset,
                                 expected="'name = expr' or 'name += expr'",
                                 line_offset=st.lineno - 1)
            targets = st.targets if isinstance(st, ast.Assign) else [st.target]
            if len(targets) != 1 or not isinstance(targets[0], ast.Name):
                raise self.error("the left-hand side must be a single variable name",
                                 st.col_offset, expected="'name = expr'",
                                 line_offset=st.lineno - 1)
            if isinstance(st, ast.AugAssign) and not isinstance(
                    st.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
                raise self.error("unsupported augmented assignment", st.col_offset,
                                 expected="=, +=, -=, *= or /=", line_offset=st.lineno - 1)

    def error(self, message: str, col_offset: int, *, expected: str | None = None,
              kind: type[Exception] = EquationSyntaxError, line_offset: int = 0) -> Exception:
        line = self.line + line_offset
        indent = self._indent[line_offset] if line_offset < len(self._indent) else 0
        column = (self.column if line_offset == 0 else 1) + indent + col_offset
        err = EquationSyntaxError(message, source=self.source, line=line, column=column,
                                  expected=expected, where=self.where)
        return err if kind is EquationSyntaxError else _located(kind, err)

    def targets(self) -> list[str]:
        out = []
        for st in self.tree.body:
            t = st.targets[0] if isinstance(st, ast.Assign) else st.target
            out.append(t.id)  # type: ignore[union-attr]
        return out

    def names(self) -> set[str]:
        used: set[str] = set()
        for st in self.tree.body:
            value = st.value
            used |= {n.id for n in ast.walk(value) if isinstance(n, ast.Name)
                     and not _is_func_name(n, value)}
        return used | set(self.targets())

    def to_statements(self, resolve: Resolver, *, check_units: bool = True,
                      writable: Callable[[str], str | None] | None = None) -> list[Statement]:
        """Statements with sympy right-hand sides; ``writable(name)`` returns None if the
        target may be written, else a reason."""
        lines = [ln.encode("utf-8") for ln in self.parsed_text.split("\n")]
        out: list[Statement] = []
        for st in self.tree.body:
            conv = _Converter(self, resolve, check_units)
            target = (st.targets[0] if isinstance(st, ast.Assign) else st.target)
            name = target.id  # type: ignore[union-attr]
            info = resolve(name)
            if info is None:
                raise conv.err(target, f"unknown variable '{name}'", UnknownNameError,
                               expected="a variable of the model")
            if writable is not None:
                reason = writable(name)
                if reason:
                    raise conv.err(target, f"cannot assign to '{name}': {reason}")
            rhs, d = conv.guarded(st.value, lambda: conv.convert(st.value))  # noqa: B023
            rhs = _arith(rhs)  # a condition assigned or added counts as 1 or 0
            op = "=" if isinstance(st, ast.Assign) else {
                ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/="}[type(st.op)]
            if check_units and info.dim is not None and d is not None and op in ("=", "+=",
                                                                                 "-="):
                conv.same(st.value, info.dim, d, f"the assignment to '{name}'", None, rhs)
            if check_units and op in ("*=", "/=") and d is not None:
                conv.dimless(st.value, d, f"the factor in '{name} {op} ...'")
            text = _segment(lines, st).strip()
            out.append(Statement(name, op, rhs, text))
        return out


def _segment(lines: list[bytes], node: ast.stmt) -> str:
    """The source text of ``node`` (``ast.get_source_segment`` splits the whole text on
    every call, which is quadratic over a long block); ``lines`` are UTF-8 encoded, as
    ast's offsets count bytes."""
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    start, end = node.col_offset, node.end_col_offset
    if first == last:
        return lines[first][start:end].decode("utf-8", errors="replace")
    parts = [lines[first][start:], *lines[first + 1:last], lines[last][:end]]
    return b"\n".join(parts).decode("utf-8", errors="replace")


def _dedent(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines()]
    return "\n".join(lines)
