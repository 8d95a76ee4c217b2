"""Brian2-style model equations.

Grammar, one definition per line (``#`` starts a comment; a line with open brackets
continues on the next)::

    dx/dt = expression : unit (flags)     differential equation
    x = expression : unit (flags)         subexpression
    x : unit (flags)                      parameter (per neuron unless (shared))

The ``: unit`` part may be left out everywhere: such a model is *unitless* (no
dimension checks; times in milliseconds, as in SPAIC). Flags: ``unless refractory``,
``shared``, ``constant``, ``event-driven``, ``clock-driven``, ``constant over dt``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from snncc.errors import EquationSyntaxError, ModelError
from snncc.frontend.expressions import FUNCTION_NAMES, Expression
from snncc.units import Dimension, parse_unit

FLAGS = ("unless refractory", "shared", "constant", "event-driven", "clock-driven",
         "constant over dt")
RESERVED = {"t", "dt", "i", "j", "N", "xi", "lastspike", "not_refractory", "True",
            "False", "and", "or", "not"}
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_DIFF = re.compile(rf"^\s*d\s*({_IDENT})\s*/\s*d\s*({_IDENT})\s*$")
_NAME = re.compile(rf"^\s*({_IDENT})\s*$")


@dataclass
class Equation:
    """One line of a model: a differential equation, subexpression or parameter."""

    kind: str  # "diff" | "sub" | "param"
    name: str
    expr: Expression | None
    unit: str | None
    dim: Dimension | None
    flags: tuple[str, ...]
    line: int
    text: str

    def __str__(self) -> str:
        return self.text.strip()


@dataclass
class Equations:
    """A parsed block of equations (see the module docstring for the grammar).

    >>> eqs = Equations("dv/dt = (I - v)/tau : volt\\nI : volt\\ntau : second")
    >>> [e.name for e in eqs.diff]
    ['v']
    """

    text: str
    where: str = "equations"
    equations: dict[str, Equation] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if isinstance(self.text, Equations):
            self.text = self.text.text
        if not isinstance(self.text, str):
            raise ModelError(f"{self.where}: equations must be a string, got "
                             f"{type(self.text).__name__}")
        for lineno, start_col, chunk in _logical_lines(self.text, self.where):
            eq = self._parse_line(chunk, lineno, start_col)
            eq.text = " ".join(part.strip() for part in chunk.splitlines())
            self._add(eq)

    # ---------------------------------------------------------------- parsing
    def _err(self, msg: str, line: int, col: int, expected: str | None = None
             ) -> EquationSyntaxError:
        return EquationSyntaxError(msg, source=self.text, line=line, column=col,
                                   expected=expected, where=self.where)

    def _parse_line(self, chunk: str, line: int, col0: int) -> Equation:  # noqa: C901
        # split off '(flags)' at the end, then ': unit', then 'lhs = rhs'
        body, flags = chunk, ()
        m = re.search(r"\(([^()]*)\)\s*$", chunk)
        colon = _top_level_index(chunk, ":")
        if m and colon is not None and m.start() > colon:
            unit_part = chunk[colon + 1:m.start()]
            if unit_part.strip():
                body = chunk[:m.start()]
                flags = tuple(f.strip() for f in m.group(1).split(","))
                for f in flags:
                    if f not in FLAGS:
                        fpos = _loc(chunk, line, col0, m.start(1) + m.group(1).find(f))
                        raise self._err(f"unknown flag '{f}'", *fpos,
                                        expected="one of " + ", ".join(FLAGS))
        unit_text, dim = None, None
        if colon is not None:
            unit_text = body[colon + 1:].strip()
            if not unit_text:
                raise self._err("missing unit after ':'", *_loc(chunk, line, col0, colon + 1),
                                expected="a unit such as volt, second, 1")
            uline, ucol = _loc(chunk, line, col0, colon + 1 + (
                len(body[colon + 1:]) - len(body[colon + 1:].lstrip())))
            dim = parse_unit(unit_text, source=self.text, line=uline, column=ucol,
                             where=self.where)
            body = body[:colon]
        eq_idx = _top_level_index(body, "=")
        if eq_idx is None:
            m2 = _NAME.match(body)
            if not m2:
                raise self._err("cannot read this line", line, col0 + 1,
                                expected="'dx/dt = f : unit', 'x = f : unit' or 'x : unit'")
            if unit_text is None:
                raise self._err(f"parameter '{m2.group(1)}' needs a unit",
                                *_loc(chunk, line, col0, len(body.rstrip())),
                                expected="': unit' (use ': 1' for a unitless parameter)")
            return self._check_name(Equation("param", m2.group(1), None, unit_text, dim,
                                             flags, line, chunk), line, col0 + m2.start(1))
        lhs, rhs = body[:eq_idx], body[eq_idx + 1:]
        rcol = col0 + eq_idx + 1 + (len(rhs) - len(rhs.lstrip()))
        if not rhs.strip():
            raise self._err("missing expression after '='", *_loc(chunk, line, col0, eq_idx + 1),
                            expected="an expression")
        expr = Expression(rhs.strip(), source=self.text, line=line, column=rcol + 1,
                          where=self.where)
        md = _DIFF.match(lhs)
        if md:
            if md.group(2) != "t":
                c = col0 + lhs.index(md.group(2), lhs.index("/")) + 1
                raise self._err(f"derivative with respect to '{md.group(2)}'", line, c,
                                expected="d/dt (derivatives are with respect to time t)")
            return self._check_name(Equation("diff", md.group(1), expr, unit_text, dim, flags,
                                             line, chunk), line, col0 + md.start(1))
        mn = _NAME.match(lhs)
        if not mn:
            raise self._err("invalid left-hand side", line, col0 + 1,
                            expected="'dx/dt' or a variable name")
        return self._check_name(Equation("sub", mn.group(1), expr, unit_text, dim, flags,
                                         line, chunk), line, col0 + mn.start(1))

    def _check_name(self, eq: Equation, line: int, col: int) -> Equation:
        if eq.name in RESERVED or eq.name.startswith("xi") and (
                eq.name == "xi" or eq.name.startswith("xi_")):
            raise self._err(f"'{eq.name}' is a reserved name", line, col + 1,
                            expected="another variable name")
        if eq.name.startswith("_"):
            raise self._err(f"'{eq.name}': names starting with '_' are reserved", line,
                            col + 1, expected="a name starting with a letter")
        if eq.name in FUNCTION_NAMES:
            raise self._err(f"'{eq.name}' is the name of a function", line, col + 1,
                            expected="another variable name")
        allowed = {"diff": {"unless refractory", "event-driven", "clock-driven"},
                   "sub": {"shared", "constant over dt"},
                   "param": {"shared", "constant"}}[eq.kind]
        for f in eq.flags:
            if f not in allowed:
                kind = {"diff": "a differential equation", "sub": "a subexpression",
                        "param": "a parameter"}[eq.kind]
                raise self._err(f"flag '{f}' is not allowed on {kind}", line, col + 1,
                                expected="one of " + ", ".join(sorted(allowed)))
        return eq

    def _add(self, eq: Equation) -> None:
        if eq.name in self.equations:
            first = self.equations[eq.name].line
            src = self.text.splitlines()[eq.line - 1]
            raise self._err(f"'{eq.name}' is defined twice (first on line {first})",
                            eq.line, len(src) - len(src.lstrip()) + 1,
                            expected="one definition per variable")
        self.equations[eq.name] = eq

    # ------------------------------------------------------------------ views
    @property
    def diff(self) -> list[Equation]:
        return [e for e in self.equations.values() if e.kind == "diff"]

    @property
    def subexpressions(self) -> list[Equation]:
        return [e for e in self.equations.values() if e.kind == "sub"]

    @property
    def parameters(self) -> list[Equation]:
        return [e for e in self.equations.values() if e.kind == "param"]

    @property
    def names(self) -> list[str]:
        return list(self.equations)

    @property
    def has_units(self) -> bool:
        """True if any line carries a ``: unit`` annotation."""
        return any(e.unit is not None for e in self.equations.values())

    def __add__(self, other: Equations | str) -> Equations:
        other_text = other.text if isinstance(other, Equations) else other
        return Equations(self.text.rstrip("\n") + "\n" + other_text, where=self.where)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.equations.values())


def _top_level_index(text: str, ch: str) -> int | None:
    """Index of the first ``ch`` outside brackets (``=`` not part of ==, <=, >=, !=)."""
    depth = 0
    for k, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == ch and depth == 0:
            if ch == "=" and ((k + 1 < len(text) and text[k + 1] == "=")
                              or (k > 0 and text[k - 1] in "=<>!")):
                continue
            return k
    return None


def _loc(chunk: str, line: int, col0: int, offset: int) -> tuple[int, int]:
    """1-based (line, column) in the source of character ``offset`` of a definition
    (``chunk``) that starts on ``line`` at 0-based column ``col0``."""
    nl = chunk.count("\n", 0, offset)
    if nl == 0:
        return line, col0 + offset + 1
    return line + nl, offset - chunk.rfind("\n", 0, offset)


def _logical_lines(text: str, where: str | None = None) -> list[tuple[int, int, str]]:
    """(line number, 0-based start column, text) of each definition; comments removed,
    lines with unclosed brackets joined with the next (by a newline, so positions in
    the joined text map back to the source with :func:`_loc`)."""
    out: list[tuple[int, int, str]] = []
    pending: tuple[int, int, str] | None = None
    depth = 0
    for k, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip() and pending is None:
            continue
        if pending is None:
            col = len(line) - len(line.lstrip())
            pending = (k, col, line[col:])
        else:
            pending = (pending[0], pending[1], pending[2] + "\n" + line)
        depth = pending[2].count("(") - pending[2].count(")")
        if depth <= 0:
            out.append(pending)
            pending = None
    if pending is not None:
        opened: list[int] = []
        for k, c in enumerate(pending[2]):
            if c == "(":
                opened.append(k)
            elif c == ")" and opened:
                opened.pop()
        bline, bcol = _loc(pending[2], pending[0], pending[1], opened[0] if opened else 0)
        raise EquationSyntaxError("unclosed bracket '(' (the definition runs to the end of "
                                  "the text)", source=text, line=bline, column=bcol,
                                  expected="a matching ')'", where=where)
    return out
