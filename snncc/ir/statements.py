"""Statements: the unit of generated per-neuron / per-synapse code in the IR."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

OPS = ("=", "+=", "-=", "*=", "/=")


@dataclass(frozen=True)
class Statement:
    """``target op expr``, e.g. ``v = v_new`` or ``ge += w``.

    ``target`` is a variable name; names starting with ``_`` are temporaries local to
    one stage. ``comment`` carries the source text the statement came from, so generated
    code can show it.
    """

    target: str
    op: str
    expr: sympy.Expr
    comment: str = ""

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown statement operator {self.op!r}")

    def as_assignment(self) -> Statement:
        """The statement with ``op='='`` (``x += e`` becomes ``x = x + e``)."""
        if self.op == "=":
            return self
        x = sympy.Symbol(self.target, real=True)
        rhs = {"+=": x + self.expr, "-=": x - self.expr, "*=": x * self.expr,
               "/=": x / self.expr}[self.op]
        return Statement(self.target, "=", rhs, self.comment)

    def __str__(self) -> str:
        return f"{self.target} {self.op} {self.expr}"


def names_in(statements: list[Statement]) -> set[str]:
    """The names that ``statements`` read or write."""
    out: set[str] = set()
    for st in statements:
        out.add(st.target)
        out |= {s.name for s in st.expr.free_symbols}
    return out
