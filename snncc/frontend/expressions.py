"""Expressions and statements: parsing text into sympy, with dimension checking.

An expression is parsed once into a Python ``ast`` tree (so every name and operator
keeps its line and column); it becomes a sympy expression when the names it uses are
known (:meth:`Expression.to_sympy`), and the same walk checks dimensions, so a unit
mismatch or an unknown name is reported at its column in the source.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import sympy

from snncc.errors import EquationSyntaxError, ModelError, UnitError, UnknownNameError
from snncc.ir.functions import clip, exprel, rand, randn
from snncc.ir.statements import Statement
from snncc.units import DIMENSIONLESS, Dimension

SECOND = Dimension(s=1)

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
        return _Converter(self, resolve, check_units).convert(self.tree)


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
        lineno = (exc.lineno or 1) - 1
        col = max((exc.offset or 1) - 1, 0)
        msg = (exc.msg or "invalid syntax").replace("invalid syntax. ", "")
        if msg.startswith("invalid syntax. Perhaps"):
            msg = "invalid syntax"
        raise owner.error(msg, col, expected="a valid expression", line_offset=lineno
                          ) from None
    # '^' is XOR in Python: report it when the text is read, at the operator
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
            lineno, col = node.left.end_lineno or 1, node.left.end_col_offset or 0
            col = text.splitlines()[lineno - 1].find("^", col)
            if col < 0:
                lineno, col = node.lineno, node.col_offset
            raise owner.error("'^' is not a power", col, expected="'**' for powers",
                              line_offset=lineno - 1)
    return tree


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
        lo = getattr(node, "lineno", 1) - 1 + self.line_offset
        return self.expr.error(message, getattr(node, "col_offset", 0), expected=expected,
                               kind=kind, line_offset=lo)

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
                return -(_int(x) if isinstance(x, sympy.logic.boolalg.Boolean)
                         and not x.is_Symbol else x), d
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
            d = self.same(node, da, db, "the branches of a conditional", a, b)
            return sympy.Piecewise((a, _as_bool(c)), (b, True)), d
        raise self.err(node, f"unsupported syntax '{type(node).__name__}'",
                       expected="arithmetic, comparisons, and/or/not, function calls")

    def binop(self, node: ast.BinOp) -> tuple[sympy.Expr, Dimension | None]:
        a, da = self.convert(node.left)
        b, db = self.convert(node.right)
        # a condition in arithmetic counts as 1 or 0, as in Brian2 ("60*Hz*(i >= 5)")
        a, b = (_int(x) if isinstance(x, sympy.logic.boolalg.Boolean) and not x.is_Symbol
                else x for x in (a, b))
        op = node.op
        if isinstance(op, (ast.Add, ast.Sub)):
            d = self.same(node, da, db, "a sum" if isinstance(op, ast.Add) else "a difference",
                          a, b)
            return (a + b if isinstance(op, ast.Add) else a - b), d
        if isinstance(op, ast.Mult):
            return a * b, (da * db if self.check and da is not None and db is not None
                           else None)
        if isinstance(op, ast.Div):
            return a / b, (da / db if self.check and da is not None and db is not None
                           else None)
        if isinstance(op, ast.Pow):
            d = None
            if self.check and da is not None:
                self.dimless(node.right, db, "an exponent")
                if not da.is_dimensionless:
                    if not b.is_number:
                        raise self.err(node.right, "the exponent of a quantity with units "
                                       "must be a number", UnitError)
                    d = da ** Fraction(str(sympy.nsimplify(b)))
                else:
                    d = DIMENSIONLESS
            return a ** b, d
        if isinstance(op, ast.Mod):
            d = self.same(node, da, db, "a modulo", a, b)
            return sympy.Mod(a, b), d
        if isinstance(op, ast.FloorDiv):
            return sympy.floor(a / b), (da / db if self.check and da and db else None)
        if isinstance(op, ast.BitXor):
            raise self.err(node, "'^' is not a power", expected="'**' for powers")
        raise self.err(node, f"unsupported operator '{type(op).__name__}'")

    def compare(self, node: ast.Compare) -> tuple[sympy.Expr, Dimension | None]:
        left, dl = self.convert(node.left)
        out = []
        for op, comp in zip(node.ops, node.comparators):
            right, dr = self.convert(comp)
            self.same(node, dl, dr, "a comparison", left, right)
            fn = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge,
                  ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne}.get(type(op))
            if fn is None:
                raise self.err(node, "unsupported comparison", expected="<, <=, >, >=, ==, !=")
            out.append(fn(left, right, evaluate=False))
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
        if name in _UNARY_DIMLESS:
            need(1)
            self.dimless(node.args[0], args[0][1], f"the argument of {name}()")
            return _UNARY_DIMLESS[name](args[0][0]), none
        if name in _SAME_DIM:
            need(1)
            return _SAME_DIM[name](args[0][0]), args[0][1]
        if name == "sqrt":
            need(1)
            d = args[0][1]
            return sympy.sqrt(args[0][0]), (d ** Fraction(1, 2) if d is not None else None)
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
        self.tree = _parse(_dedent(self.text), "exec", self)  # type: ignore[assignment]
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
        dedented = _dedent(self.text)
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
            rhs, d = conv.convert(st.value)
            op = "=" if isinstance(st, ast.Assign) else {
                ast.Add: "+=", ast.Sub: "-=", ast.Mult: "*=", ast.Div: "/="}[type(st.op)]
            if check_units and info.dim is not None and d is not None and op in ("=", "+=",
                                                                                 "-="):
                conv.same(st.value, info.dim, d, f"the assignment to '{name}'", None, rhs)
            if check_units and op in ("*=", "/=") and d is not None:
                conv.dimless(st.value, d, f"the factor in '{name} {op} ...'")
            text = (ast.get_source_segment(dedented, st) or "").strip()
            out.append(Statement(name, op, rhs, text))
        return out


def _dedent(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines()]
    return "\n".join(lines)
