"""Integration pass: turn ``dx/dt = f(x, t)`` into the statements of one time step.

:func:`integrate_odes` takes the differential equations of one population (right-hand
sides with subexpressions already substituted) and returns plain assignment
:class:`~snncc.ir.statements.Statement` s that advance the state by ``dt``:

* temporaries first (names start with ``_``): stage values ``_<stage>_<var>`` such as
  ``_k1_v`` or ``_support_v``, one noise increment ``_dW_<xi>`` per white-noise symbol and
  the new values ``_<var>_new``;
* then one ``var = _<var>_new`` per state variable, whose comment names the method and
  the equation. Every temporary reads only old state values, so the order of the final
  assignments does not matter.

Methods (each answers "can I integrate these equations?" before it is used):

``exact``
    Linear systems with constant coefficients (``dx/dt = A x + b``, ``A`` and ``b``
    independent of the state and of ``t``), solved with the matrix exponential.
    Independent groups of variables are solved separately; triangular groups (e.g. a
    membrane driven by decaying conductances) in closed form, genuinely coupled groups
    through an eigen/Jordan decomposition, always giving real expressions.
``exponential_euler``
    Each equation conditionally linear in its own variable, ``dx/dt = A x + B`` with
    ``A``, ``B`` free of ``x`` (they may depend on other variables): the update is exact
    for frozen ``A``, ``B`` (Hodgkin-Huxley gating variables).
``euler``
    Forward Euler; with white noise Euler-Maruyama (additive noise only).
``rk2``, ``rk4``
    Midpoint and classic Runge-Kutta methods (no noise).
``heun``
    Heun's method; with noise the stochastic Heun method for Stratonovich SDEs, which
    also handles multiplicative noise.

White noise is written as a symbol ``xi`` or ``xi_<name>`` (dimension second**-0.5, as in
Brian2) and must enter linearly: ``dx/dt = f + g*xi``. Each distinct noise symbol is one
noise source, drawn once per step (``randn``) and shared by all equations that use it.

The explicit methods are written as short recipes over vectors of per-variable
expressions (see :class:`_Stepper`), e.g. Runge-Kutta 4 reads like its textbook form.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy
from sympy.utilities.iterables import connected_components, strongly_connected_components

from snncc.errors import IntegrationError
from snncc.ir import program as ir
from snncc.ir.functions import exprel, is_random, randn
from snncc.ir.statements import Statement

__all__ = ["AUTO_ORDER", "METHODS", "can_integrate", "integrate", "integrate_odes",
           "is_noise_symbol"]

METHODS = ("exact", "exponential_euler", "euler", "rk2", "rk4", "heun")
AUTO_ORDER = ("exact", "exponential_euler", "euler", "heun")

_DT = sympy.Symbol("dt", real=True)
_T = sympy.Symbol("t", real=True)


class _Cannot(Exception):
    """Raised inside a method when it cannot integrate the equations; ``args[0]`` is the
    reason, a sentence naming the equation."""


def is_noise_symbol(symbol: sympy.Basic) -> bool:
    """True for the white-noise symbols ``xi`` and ``xi_<name>``."""
    return isinstance(symbol, sympy.Symbol) and (symbol.name == "xi"
                                                 or symbol.name.startswith("xi_"))


# ---------------------------------------------------------------------------------------
# The system of equations
# ---------------------------------------------------------------------------------------

@dataclass
class _System:
    """The equations split into deterministic part ``f`` and noise coefficients ``g``:
    ``dx_i/dt = f_i + sum_k g_i[xi_k] * xi_k``."""

    names: list[str]
    states: list[sympy.Symbol]
    f: list[sympy.Expr]
    g: list[dict[sympy.Symbol, sympy.Expr]]
    texts: list[str]
    noise: list[sympy.Symbol]  # the distinct noise symbols, in order of appearance
    t: sympy.Symbol
    dt: sympy.Expr

    @property
    def stochastic(self) -> bool:
        return bool(self.noise)

    def equation(self, i: int) -> str:
        return self.texts[i]

    def equations(self, indices: Sequence[int]) -> str:
        return "; ".join(self.texts[i] for i in indices)

    def multiplicative(self) -> list[int]:
        """Indices of equations whose noise coefficients depend on a state variable."""
        states = set(self.states)
        return [i for i, g in enumerate(self.g)
                if any(c.free_symbols & states for c in g.values())]


def _unpack(ode: object) -> tuple[str, sympy.Expr, str | None]:
    if isinstance(ode, tuple | list):
        if len(ode) == 2:
            return str(ode[0]), sympy.sympify(ode[1]), None
        if len(ode) == 3:
            return str(ode[0]), sympy.sympify(ode[1]), str(ode[2])
        raise IntegrationError(f"an ODE must be (name, rhs) or (name, rhs, text), got {ode!r}")
    name, rhs = getattr(ode, "name", None), getattr(ode, "rhs", None)
    if name is None or rhs is None:
        raise IntegrationError(f"an ODE must be (name, rhs) or have .name and .rhs, "
                               f"got {ode!r}")
    return str(name), sympy.sympify(rhs), getattr(ode, "text", None) or None


def _system(odes: Sequence[object], t: sympy.Symbol, dt: sympy.Expr, where: str) -> _System:
    names, rhss, texts = [], [], []
    for ode in odes:
        name, rhs, text = _unpack(ode)
        if name in names:
            raise IntegrationError(f"{where}: variable '{name}' has two differential "
                                   f"equations")
        names.append(name)
        rhss.append(rhs)
        texts.append(text or f"d{name}/dt = {rhs}")
    states = [sympy.Symbol(n, real=True) for n in names]
    # Canonical symbols: a state variable or t written with other assumptions is the same.
    canon = {s.name: s for s in states}
    canon[t.name] = t
    f, g, noise = [], [], []
    for rhs, text in zip(rhss, texts, strict=True):
        rhs = rhs.xreplace({s: canon[s.name] for s in rhs.free_symbols
                            if isinstance(s, sympy.Symbol) and s.name in canon
                            and s != canon[s.name]})
        if rhs.has(sympy.Derivative, sympy.Integral):
            raise IntegrationError(f"{where}: {text}: derivatives or integrals are not "
                                   f"allowed on a right-hand side")
        if is_random(rhs):
            raise IntegrationError(f"{where}: {text}: rand() and randn() are not allowed in "
                                   f"differential equations; write white noise as xi "
                                   f"(or xi_<name>), e.g. sigma*xi*tau**-0.5")
        xis = sorted((s for s in rhs.free_symbols if is_noise_symbol(s)), key=str)
        coeffs = {}
        for xi in xis:
            c = sympy.diff(rhs, xi)
            if any(c.has(x) for x in xis):
                raise IntegrationError(
                    f"{where}: {text}: white noise must enter linearly (f + g*{xi}); "
                    f"'{xi}' appears in a nonlinear term")
            coeffs[xi] = c
            if xi not in noise:
                noise.append(xi)
        det = rhs.xreplace({xi: 0 for xi in xis}) if xis else rhs
        f.append(det)
        g.append(coeffs)
    return _System(names, states, f, g, texts, noise, t, dt)


# ---------------------------------------------------------------------------------------
# Explicit methods: short recipes over vectors of per-variable expressions
# ---------------------------------------------------------------------------------------

class _Vec:
    """One expression per state variable, with elementwise arithmetic."""

    def __init__(self, items: dict[str, sympy.Expr]) -> None:
        self.items = items

    def _zip(self, other: object, op: Callable) -> _Vec:
        if isinstance(other, _Vec):
            return _Vec({k: op(v, other.items[k]) for k, v in self.items.items()})
        return _Vec({k: op(v, other) for k, v in self.items.items()})

    def __add__(self, other: object) -> _Vec:
        return self._zip(other, lambda a, b: a + b)

    __radd__ = __add__

    def __sub__(self, other: object) -> _Vec:
        return self._zip(other, lambda a, b: a - b)

    def __mul__(self, other: object) -> _Vec:
        return self._zip(other, lambda a, b: a * b)

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> _Vec:
        return self._zip(other, lambda a, b: a / b)


class _Stepper:
    """Builds the statements of an explicit method.

    ``x`` is the vector of old state values, ``t`` and ``dt`` the time and step,
    ``f(X, t)`` the deterministic right-hand sides evaluated at state ``X`` and time
    ``t``, ``noise(X, t)`` the stochastic increment ``sum_k g_k(X, t) * dW_k``, and
    ``let(stage, V)`` stores a vector in temporaries ``_<stage>_<var>``.
    """

    def __init__(self, system: _System, method: str) -> None:
        self.system = system
        self.method = method
        self.statements: list[Statement] = []
        self.x = _Vec(dict(zip(system.names, system.states, strict=True)))
        self.t = system.t
        self.dt = system.dt
        self._taken = {s.name for e in [*system.f, *(c for g in system.g
                                                      for c in g.values())]
                       for s in e.free_symbols} | set(system.names)
        self.dW = {}
        for xi in system.noise:
            name = self._fresh(f"_dW_{xi.name}")
            users = [n for n, g in zip(system.names, system.g, strict=True) if xi in g]
            self.statements.append(Statement(
                name, "=", sympy.sqrt(self.dt) * randn.new(),
                f"{method}: Wiener increment of {xi} (used by {', '.join(users)})"))
            self.dW[xi] = sympy.Symbol(name, real=True)

    def _fresh(self, name: str) -> str:
        while name in self._taken:
            name = name + "_"
        self._taken.add(name)
        return name

    def _at(self, X: _Vec, t: sympy.Expr) -> dict:
        repl = {s: X.items[n] for n, s in zip(self.system.names, self.system.states,
                                                strict=True)}
        if t != self.t:
            repl[self.t] = t
        return repl

    def f(self, X: _Vec, t: sympy.Expr) -> _Vec:
        repl = self._at(X, t)
        return _Vec({n: e.xreplace(repl) for n, e in zip(self.system.names, self.system.f,
                                                         strict=True)})

    def noise(self, X: _Vec, t: sympy.Expr) -> _Vec:
        repl = self._at(X, t)
        return _Vec({n: sympy.Add(*(c.xreplace(repl) * self.dW[xi] for xi, c in g.items()))
                     for n, g in zip(self.system.names, self.system.g, strict=True)})

    def let(self, stage: str, V: _Vec) -> _Vec:
        out = {}
        for n, e in V.items.items():
            name = self._fresh(f"_{stage}_{n}")
            self.statements.append(Statement(name, "=", e, f"{self.method}: {stage} of {n}"))
            out[n] = sympy.Symbol(name, real=True)
        return _Vec(out)


def _finals(system: _System, method: str, new: dict[str, sympy.Expr]) -> list[Statement]:
    """``var = <new value>`` for every state variable, commented with the equation."""
    return [Statement(n, "=", new[n], f"{method}: {system.equation(i)}")
            for i, n in enumerate(system.names)]


def _euler(s: _Stepper) -> _Vec:
    return s.x + s.dt * s.f(s.x, s.t) + s.noise(s.x, s.t)


def _rk2(s: _Stepper) -> _Vec:
    k1 = s.let("k1", s.dt * s.f(s.x, s.t))
    return s.x + s.dt * s.f(s.x + k1 / 2, s.t + s.dt / 2)


def _rk4(s: _Stepper) -> _Vec:
    k1 = s.let("k1", s.dt * s.f(s.x, s.t))
    k2 = s.let("k2", s.dt * s.f(s.x + k1 / 2, s.t + s.dt / 2))
    k3 = s.let("k3", s.dt * s.f(s.x + k2 / 2, s.t + s.dt / 2))
    k4 = s.let("k4", s.dt * s.f(s.x + k3, s.t + s.dt))
    return s.x + (k1 + 2 * k2 + 2 * k3 + k4) / 6


def _heun(s: _Stepper) -> _Vec:
    # Deterministic: Heun's (improved Euler). With noise: the stochastic Heun method,
    # which converges to the Stratonovich solution.
    k1 = s.let("k1", s.dt * s.f(s.x, s.t))
    if not s.system.stochastic:
        k2 = s.dt * s.f(s.x + k1, s.t + s.dt)
        return s.x + (k1 + k2) / 2
    n1 = s.let("n1", s.noise(s.x, s.t))
    support = s.let("support", s.x + k1 + n1)
    k2 = s.dt * s.f(support, s.t + s.dt)
    n2 = s.noise(support, s.t + s.dt)
    return s.x + (k1 + k2) / 2 + (n1 + n2) / 2


_EXPLICIT = {"euler": _euler, "rk2": _rk2, "rk4": _rk4, "heun": _heun}


def _explicit(method: str, system: _System) -> list[Statement]:
    s = _Stepper(system, method)
    new = _EXPLICIT[method](s)
    return s.statements + _with_temporaries(system, method, new.items, s._taken)


# ---------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------

def _check_deterministic(method: str, system: _System) -> None:
    for i, g in enumerate(system.g):
        if g:
            xis = ", ".join(str(xi) for xi in g)
            raise _Cannot(f"{method} cannot integrate stochastic equations "
                          f"({system.equation(i)} has the noise term {xis})")


def _check_euler(system: _System) -> None:
    mult = system.multiplicative()
    if mult:
        raise _Cannot("euler (Euler-Maruyama) integrates only additive noise; the noise "
                      f"in {system.equations(mult)} is multiplied by a state variable "
                      "(multiplicative noise is a Stratonovich SDE here, use heun)")


def _affine_step(x: sympy.Expr, a: sympy.Expr, b: sympy.Expr, dt: sympy.Expr) -> sympy.Expr:
    """Exact step of ``x' = a*x + b`` for constant ``a``, ``b``."""
    if a == 0:
        return x + b * dt
    if b == 0:
        return x * sympy.exp(a * dt)
    if a.is_zero is False and _small(b / a):
        c = sympy.cancel(b / a)
        return (x + c) * sympy.exp(a * dt) - c
    # a might be zero for some parameter values: exprel(y) = (exp(y) - 1)/y is safe at 0.
    return x + (a * x + b) * dt * exprel(a * dt)


def _exponential_euler(system: _System) -> list[Statement]:
    _check_deterministic("exponential_euler", system)
    new = {}
    for i, (x, f) in enumerate(zip(system.states, system.f, strict=True)):
        a = sympy.diff(f, x) if _affine_in(f, {x}) else x  # x: "not linear" (cheaply)
        if a.has(x):
            raise _Cannot(f"exponential_euler needs each equation linear in its own "
                          f"variable (dx/dt = A*x + B with A, B free of x); "
                          f"{system.equation(i)} is not linear in {x}")
        b = _zero_at(f, [x], a * x)
        if a == 0:
            new[system.names[i]] = x + system.dt * b
        else:
            # x_new = x + (A x + B) dt exprel(A dt) == x e^(A dt) + B (e^(A dt) - 1)/A,
            # accurate for small A*dt and valid for A == 0.
            new[system.names[i]] = x + (a * x + b) * system.dt * exprel(a * system.dt)
    return _with_temporaries(system, "exponential_euler", new)


def _zero_at(f: sympy.Expr, xs: Sequence[sympy.Symbol], linear: sympy.Expr) -> sympy.Expr:
    """``f`` with the variables ``xs`` (in which ``f`` is affine) set to zero."""
    b = sympy.sympify(f.xreplace({x: 0 for x in xs}))
    if b.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        b = sympy.cancel(sympy.expand(f - linear))
    return b


def _with_temporaries(system: _System, method: str, new: dict[str, sympy.Expr],
                      taken: set[str] = frozenset()) -> list[Statement]:
    """``_<var>_new = <new value>`` for every variable, then ``var = _<var>_new``."""
    taken = ({s.name for e in new.values() for s in e.free_symbols} | set(system.names)
             | set(taken))
    stmts, symbols = [], {}
    for n in system.names:
        name = f"_{n}_new"
        while name in taken:
            name += "_"
        taken.add(name)
        stmts.append(Statement(name, "=", new[n], f"{method}: new value of {n}"))
        symbols[n] = sympy.Symbol(name, real=True)
    return stmts + _finals(system, method, symbols)


# ---------------------------------------------------------------------------------------
# Exact integration of linear systems with constant coefficients
# ---------------------------------------------------------------------------------------

def _linear_system(system: _System) -> tuple[sympy.Matrix, list[sympy.Expr]]:
    """``A``, ``b`` with ``f = A x + b``, or :class:`_Cannot`."""
    _check_deterministic("exact", system)
    n = len(system.states)
    A = sympy.zeros(n, n)
    b = []
    forbidden = set(system.states) | {system.t}
    for i, f in enumerate(system.f):
        if not _affine_in(f, set(system.states)):  # before sympy differentiates it
            which = next((f"in {x}" for x in system.states if not _affine_in(f, {x})),
                         "in the state variables")
            raise _Cannot("exact needs a linear system with constant coefficients "
                          "(dx/dt = A*x + b with A, b free of the state variables and of "
                          f"t); {system.equation(i)} is not linear {which}")
        for j, x in enumerate(system.states):
            c = sympy.diff(f, x)
            if c != 0 and c.free_symbols and _small(c):
                c = sympy.cancel(c)  # the state may cancel out: (v*a)/v
            bad = c.free_symbols & forbidden
            if bad:
                why = (f"is not linear in {x}" if bad - {system.t}
                       else f"has a coefficient of {x} that depends on time t")
                raise _Cannot("exact needs a linear system with constant coefficients "
                              "(dx/dt = A*x + b with A, b free of the state variables and "
                              f"of t); {system.equation(i)} {why}")
            A[i, j] = c
        bi = _zero_at(f, system.states, sum(A[i, j] * x for j, x in enumerate(system.states)))
        if system.t in bi.free_symbols:
            raise _Cannot(f"exact needs constant coefficients; {system.equation(i)} "
                          f"depends on time t")
        if bi.free_symbols & set(system.states):
            raise _Cannot(f"exact needs a linear system; {system.equation(i)} is not "
                          f"linear in the state variables")
        b.append(bi)
    return A, b


#: the most operations an expression may have for sympy's ``cancel`` to be tried on it
#: (its cost grows exponentially with nesting: tanh(tanh(...)) twelve deep takes 30 s)
_CANCEL_MAX_OPS = 60


def _affine_in(e: sympy.Expr, xs: set[sympy.Symbol]) -> bool:
    """A structural test, linear in the size of ``e``: ``e`` is a sum of terms each with at
    most one factor that depends on ``xs``, itself one of ``xs`` or affine in them. False
    also for some expressions that only simplify to affine ones (then a method that does
    not need linearity is used): it keeps sympy from differentiating, say, 96 nested tanh,
    which takes seconds."""
    if not e.free_symbols & xs or e in xs:
        return True
    if e.is_Add:
        return all(_affine_in(a, xs) for a in e.args)
    if e.is_Mul:
        dep = [a for a in e.args if a.free_symbols & xs]
        return len(dep) == 1 and _affine_in(dep[0], xs)
    if isinstance(e, sympy.Piecewise):  # where(c, a, b): affine branches, fixed condition
        return all(_affine_in(x, xs) and not cond.free_symbols & xs for x, cond in e.args)
    return False


def _small(e: sympy.Expr) -> bool:
    """True if ``e`` is small enough for the bounded symbolic search of ``exact``."""
    return sympy.count_ops(e, visual=False) <= _CANCEL_MAX_OPS


def _exact(system: _System) -> list[Statement]:
    A, b = _linear_system(system)
    n = len(system.names)
    deps = [(i, j) for i in range(n) for j in range(n) if i != j and A[i, j] != 0]
    new: dict[str, sympy.Expr] = {}
    for comp in connected_components((list(range(n)), deps)):
        comp = sorted(comp)
        edges = [(i, j) for i, j in deps if i in comp]
        blocks = strongly_connected_components((comp, edges))  # dependencies first
        if all(len(block) == 1 for block in blocks):
            order = [block[0] for block in blocks]
            new.update(_triangular(system, A, b, order))
        else:
            new.update(_coupled(system, A, b, comp))
    for n_, e in new.items():
        if e.has(sympy.I):
            raise _Cannot(f"exact could not find a real solution for d{n_}/dt")
    return _with_temporaries(system, "exact", new)


def _is_zero(e: sympy.Expr) -> bool:
    return e == 0 or (bool(e.free_symbols) and sympy.cancel(e) == 0)


def _nearly_equal(a: sympy.Expr, b: sympy.Expr) -> bool:
    """Numbers within 1e-9 (relative): treating such rates as equal avoids dividing by
    their tiny difference, at an error far below float precision."""
    if not (a.is_number and b.is_number):
        return False
    fa, fb = complex(a), complex(b)
    return abs(fa - fb) <= 1e-9 * max(abs(fa), abs(fb))


class _QuasiPolynomial:
    """The rates ``lam`` of solutions written as ``sum c * s**k * exp(lam*s)``, stored
    as ``{(rate index, k): {source: c}}`` where sources are old state values and 1 (for
    constant terms). Rates equal up to simplification share one index, which is how equal
    time constants give the resonant ``s**k`` terms."""

    def __init__(self) -> None:
        self.rates: list[sympy.Expr] = []

    def rate(self, lam: sympy.Expr) -> int:
        for i, r in enumerate(self.rates):
            if r == lam or _is_zero(r - lam) or _nearly_equal(r, lam):
                return i
        self.rates.append(lam)
        return len(self.rates) - 1


def _triangular(system: _System, A: sympy.Matrix, b: list[sympy.Expr],
                order: list[int]) -> dict[str, sympy.Expr]:
    """Closed-form solution of a triangular linear system (each variable depends only on
    itself and on variables earlier in ``order``), by integrating
    ``x_i(s) = e^(a s) x_i + int_0^s e^(a (s - r)) u(r) dr`` term by term."""
    s = system.dt
    if len(order) == 1:
        i = order[0]
        return {system.names[i]: _affine_step(system.states[i], A[i, i], b[i], s)}
    qp = _QuasiPolynomial()
    one = sympy.Integer(1)
    sols: dict[int, dict[tuple[int, int], dict[sympy.Expr, sympy.Expr]]] = {}

    def add(terms: dict, key: tuple[int, int], src: sympy.Expr, c: sympy.Expr) -> None:
        d = terms.setdefault(key, {})
        d[src] = d.get(src, 0) + c

    for i in order:
        a = A[i, i]
        ia = qp.rate(a)
        u: dict = {}
        if b[i] != 0:
            add(u, (qp.rate(sympy.Integer(0)), 0), one, b[i])
        for j, sol in sols.items():
            if A[i, j] != 0:
                for key, coeffs in sol.items():
                    for src, c in coeffs.items():
                        add(u, key, src, A[i, j] * c)
        x: dict = {}
        add(x, (ia, 0), system.states[i], one)
        for (il, k), coeffs in u.items():
            mu = qp.rates[il] - a
            for src, c in coeffs.items():
                if il == ia:
                    add(x, (ia, k + 1), src, c / (k + 1))
                    continue
                # int_0^s r^k e^(mu r) dr = e^(mu s) P_k(s) - P_k(0)
                for m in range(k + 1):
                    w = (-1) ** m * math.factorial(k) // math.factorial(k - m)
                    add(x, (il, k - m), src, c * w / mu ** (m + 1))
                add(x, (ia, 0), src, -c * (-1) ** k * math.factorial(k) / mu ** (k + 1))
        sols[i] = {key: {src: _tidy(c) for src, c in coeffs.items()}
                   for key, coeffs in x.items()}
    out = {}
    for i in order:
        total = []
        for (il, k), coeffs in sols[i].items():
            inner = sympy.Add(*(c * src for src, c in coeffs.items() if c != 0))
            if inner != 0:
                total.append(sympy.exp(qp.rates[il] * s) * s ** k * inner)
        out[system.names[i]] = sympy.Add(*total)
    return out


def _tidy(c: sympy.Expr) -> sympy.Expr:
    if not c.free_symbols or not _small(c):
        return c
    return sympy.factor(sympy.cancel(c))


def _coupled(system: _System, A: sympy.Matrix, b: list[sympy.Expr],
             comp: list[int]) -> dict[str, sympy.Expr]:
    """``x_new = E x + F b`` with ``E = exp(A dt)``, ``F = int_0^dt exp(A r) dr`` for a
    group of variables that are coupled (a cycle in the dependency graph)."""
    Ac = A.extract(comp, comp)
    bc = sympy.Matrix([b[i] for i in comp])
    xs = sympy.Matrix([system.states[i] for i in comp])
    names = [system.names[i] for i in comp]
    if all(e.is_number for e in Ac):
        modes = _modes_numeric(Ac, system.dt)
        if modes is not None:
            # group by time function: x_new = sum_m phi_m(dt) * (E_m x + F_m b)
            out = {}
            for p, n in enumerate(names):
                terms = []
                for phi, Em, Fm in modes:
                    inner = sympy.Add(*(_num(Em[p, q]) * xs[q] + _num(Fm[p, q]) * bc[q]
                                        for q in range(len(comp))))
                    terms.append(phi * inner)
                out[n] = sympy.Add(*terms)
            return out
    new = _coupled_symbolic(Ac, bc, xs, system.dt, names)
    return dict(zip(names, new, strict=True))


def _num(c: float) -> sympy.Expr:
    return sympy.Integer(int(c)) if c in (0.0, 1.0, -1.0) else sympy.Float(c)


def _modes_numeric(A: sympy.Matrix, s: sympy.Expr) -> list | None:
    """``exp(A s) = sum_m phi_m(s) E_m`` and ``int_0^s exp(A r) dr = sum_m phi_m(s) F_m``
    from a float64 eigendecomposition, with complex-conjugate eigenvalue pairs combined
    into real ``exp*cos`` / ``exp*sin`` modes. Returns ``[(phi_m, E_m, F_m)]`` with numpy
    matrices, or None if ``A`` is (nearly) defective (then the exact Jordan form is
    used)."""
    a = np.array(A.tolist(), dtype=float)
    n = a.shape[0]
    lam, V = np.linalg.eig(a)
    scale = max(1.0, float(np.abs(lam).max()))
    gaps = [abs(lam[i] - lam[j]) for i in range(n) for j in range(i + 1, n)]
    if min(gaps, default=scale) < 1e-6 * scale or np.linalg.cond(V) > 1e8:
        return None
    W = np.linalg.inv(V)
    tol = 1e-12 * scale
    zero = np.zeros((n, n))
    modes: list = []
    for i in range(n):
        li = complex(lam[i])
        if li.imag < -tol:
            continue  # the conjugate of an eigenvalue already used
        C = np.outer(V[:, i], W[i, :])
        alpha, beta = li.real, li.imag
        growth = sympy.exp(sympy.Float(alpha) * s) if abs(alpha) > tol else sympy.Integer(1)
        if abs(beta) <= tol:  # real eigenvalue: E += C e^(a s), F += C (e^(a s) - 1)/a
            C = C.real
            if abs(alpha) <= tol:
                modes += [(growth, C, zero), (s, zero, C)]
            else:
                modes += [(growth, C, C / alpha), (sympy.Integer(1), zero, -C / alpha)]
            continue
        # pair alpha +- i beta: E += 2 Re(C e^(lam s)), F += 2 Re((C/lam) (e^(lam s) - 1))
        D = 2 * C / li
        C = 2 * C
        cos, sin = sympy.cos(sympy.Float(beta) * s), sympy.sin(sympy.Float(beta) * s)
        modes += [(growth * cos, C.real, D.real), (growth * sin, -C.imag, -D.imag),
                  (sympy.Integer(1), zero, -D.real)]
    big = max((float(np.abs(m).max()) for _, E, F in modes for m in (E, F)), default=0.0)
    cut = 1e-13 * big  # round-off from the eigendecomposition
    cleaned = []
    for phi, E, F in modes:
        E = np.where(np.abs(E) < cut, 0.0, E)
        F = np.where(np.abs(F) < cut, 0.0, F)
        cleaned.append((phi, E, F))
    return cleaned


def _coupled_symbolic(A: sympy.Matrix, b: sympy.Matrix, xs: sympy.Matrix, s: sympy.Expr,
                      names: list[str]) -> list[sympy.Expr]:
    """New values ``exp(A s) x + int_0^s exp(A r) dr b`` from sympy's Jordan form of the
    augmented matrix ``M = [[A, b], [0, 0]]`` (``exp(M s)`` holds both terms, and no
    inverse of ``A`` is needed); numbers are made exact (rational) first."""
    n = A.shape[0]
    floats = any(e.has(sympy.Float) for e in (*A, *b))
    if floats:
        A = A.applyfunc(lambda e: sympy.nsimplify(e, rational=True))
        b = b.applyfunc(lambda e: sympy.nsimplify(e, rational=True))
    group = ", ".join(names)
    try:
        eigenvalues = list(A.eigenvals())
    except (sympy.MatrixError, NotImplementedError, ValueError) as exc:
        raise _Cannot(f"exact could not find the eigenvalues of the coupled equations for "
                      f"{group} ({exc})") from exc
    for lam in eigenvalues:
        if lam.is_real is None and sympy.im(lam).is_zero is None:
            raise _Cannot(f"exact cannot tell whether the coupled equations for {group} "
                          f"oscillate (eigenvalue {lam} may be real or complex depending "
                          f"on the parameter values); give the parameters numerical values "
                          f"or use another method")
    augmented = any(e != 0 for e in b)
    M = A.row_join(b).col_join(sympy.zeros(1, n + 1)) if augmented else A
    size = M.shape[0]
    try:
        P, J = M.jordan_form()
    except (sympy.MatrixError, NotImplementedError, ValueError) as exc:
        raise _Cannot(f"exact could not compute the matrix exponential of the coupled "
                      f"equations for {group} ({exc})") from exc
    expJ = sympy.zeros(size, size)
    i = 0
    while i < size:  # Jordan blocks: e^(lam s) s^k / k! on the k-th superdiagonal
        j = i
        while j + 1 < size and J[j, j + 1] == 1:
            j += 1
        lam = J[i, i]
        for p in range(i, j + 1):
            for q in range(p, j + 1):
                k = q - p
                expJ[p, q] = sympy.exp(lam * s) * s ** k / math.factorial(k)
        i = j + 1
    X = P * expJ * P.inv()

    def real(e: sympy.Expr) -> sympy.Expr:
        e = sympy.expand_complex(e) if e.has(sympy.I) else e
        e = sympy.simplify(e)
        return sympy.nfloat(e) if floats else e

    X = X.applyfunc(real)
    return [sum((X[p, q] * xs[q] for q in range(n)), X[p, n] if augmented else 0)
            for p in range(n)]


# ---------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------

def _run(method: str, system: _System) -> list[Statement]:
    if method == "exact":
        return _exact(system)
    if method == "exponential_euler":
        return _exponential_euler(system)
    if method in ("rk2", "rk4"):
        _check_deterministic(method, system)
    if method == "euler":
        _check_euler(system)
    return _explicit(method, system)


def _check_method(method: str, where: str) -> None:
    if method not in METHODS:
        raise IntegrationError(f"{where}: unknown integration method {method!r}; "
                               f"valid methods are {', '.join(METHODS)}")


def _as_dt(dt: sympy.Symbol | float) -> sympy.Expr:
    return dt if isinstance(dt, sympy.Basic) else sympy.Float(dt)


def can_integrate(method: str, odes: Sequence[object], *,
                  dt: sympy.Symbol | float = _DT, t: sympy.Symbol = _T,
                  where: str = "equations") -> str | None:
    """None if ``method`` can integrate ``odes``, else the reason (a sentence).

    ``odes`` as for :func:`integrate_odes`. An unknown method raises
    :class:`~snncc.errors.IntegrationError`.
    """
    _check_method(method, where)
    system = _system(odes, t, _as_dt(dt), where)
    try:
        _run(method, system)
    except _Cannot as exc:
        return str(exc.args[0])
    return None


def integrate_odes(odes: Sequence[object], *, method: str | None = None,
                   dt: sympy.Symbol | float = _DT, t: sympy.Symbol = _T,
                   where: str = "equations") -> tuple[list[Statement], str]:
    """Discretise ``dx/dt = f(x, t)`` for one time step.

    Args:
        odes: ``(name, rhs)`` or ``(name, rhs, text)`` tuples, or objects with ``.name``,
            ``.rhs`` (and optionally ``.text``, used in comments) such as
            :class:`snncc.ir.program.ODE`. State variables are the symbols with these
            names; ``xi`` / ``xi_<name>`` symbols are white noise.
        method: one of :data:`METHODS`, or None for the first method of
            :data:`AUTO_ORDER` that can integrate the equations (so equations with noise
            get ``euler`` for additive and ``heun`` for multiplicative noise).
        dt: the time step, a symbol or a number.
        t: the time symbol.
        where: names the equations' owner in error messages.

    Returns:
        ``(statements, method used)``: temporaries (``_...``) followed by one
        ``var = _var_new`` per state variable, in the order of ``odes``.

    Raises:
        IntegrationError: unknown method; the forced method cannot integrate the
            equations (the message says why and suggests a method that can); no method
            can.
    """
    if method is not None:
        _check_method(method, where)
    system = _system(odes, t, _as_dt(dt), where)
    if not system.names:
        return [], method or AUTO_ORDER[0]
    if method is not None:
        try:
            return _run(method, system), method
        except _Cannot as exc:
            reason = str(exc.args[0])
        others = [m for m in (*AUTO_ORDER, *METHODS) if m != method]
        works = next((m for m in dict.fromkeys(others) if _works(m, system)), None)
        hint = (f"; method '{works}' can integrate them" if works
                else "; no other method can integrate them either")
        raise IntegrationError(f"{where}: method '{method}' cannot integrate these "
                               f"equations: {reason}{hint}")
    reasons = []
    for m in AUTO_ORDER:
        try:
            return _run(m, system), m
        except _Cannot as exc:
            reasons.append(f"{m}: {exc.args[0]}")
    raise IntegrationError(f"{where}: no integration method can integrate these equations ("
                           + "; ".join(reasons) + ")")


def _works(method: str, system: _System) -> bool:
    try:
        _run(method, system)
    except _Cannot:
        return False
    return True


def _constant_over_dt(p: ir.Population
                      ) -> tuple[list[Statement], list[ir.ODE], list[Statement]]:
    """Brian2's (constant over dt): each such subexpression is computed once, into a
    temporary ``_<name>_const``, before the state update, from the state before it; the
    ODEs read that temporary (a constant during the step, so e.g. ``exact`` applies) and
    ``<name> = _<name>_const`` stores it with the new state. Returns (statements before
    the integrator's, the ODEs to integrate, statements after)."""
    temps = {sympy.Symbol(n, real=True): sympy.Symbol(f"_{n}_const", real=True)
             for n in p.constant_over_dt}
    before, after = [], []
    for n, e in p.constant_over_dt.items():  # in dependency order (lowering sorts them)
        s = sympy.Symbol(n, real=True)
        text = p.subexpression_texts.get(n, n)
        before.append(Statement(temps[s].name, "=", e.xreplace(temps),
                                f"constant over dt: {text}"))
        after.append(Statement(n, "=", temps[s], f"constant over dt: {text}"))
    odes = [ir.ODE(o.name, o.rhs.xreplace(temps), o.text) for o in p.odes]
    return before, odes, after


def integrate(program: ir.Program, method: str | None = None) -> ir.Program:
    """The pass: every population's ODEs become statements appended to its ``update``,
    and ``method_used`` records the integrator; a projection's event-driven ODEs become
    its ``update`` (over ``_elapsed``, the time since the last event) and its clock-driven
    ODEs its ``clock_update`` (``clock_method_used``). ``method`` forces one method for every
    population; otherwise the population's own ``method`` (or the automatic choice) is
    used. ``dt`` is the number ``program.dt * time_scale`` (the backends print no ``dt``
    symbol), ``t`` stays the symbol ``t``."""
    pops = {}
    for key, p in program.populations.items():
        if not p.odes and not p.constant_over_dt:
            pops[key] = p
            continue
        where = f"population '{p.name}'" + (f" (model '{p.model_name}')"
                                            if p.model_name else "")
        before, odes, after = _constant_over_dt(p)
        statements, used = [], p.method_used
        if odes:
            statements, used = integrate_odes(odes, method=method or p.method,
                                              dt=sympy.Float(program.dt * p.time_scale),
                                              where=where)
        pops[key] = p.with_(update=[*p.update, *before, *statements, *after],
                            method_used=used)
    projs = {}
    elapsed = sympy.Symbol("_elapsed", real=True)
    for key, pr in program.projections.items():
        if pr.odes:
            # event-driven equations are advanced over the time since the last event
            statements, used = integrate_odes(pr.odes, method=method or pr.method,
                                              dt=elapsed,
                                              where=f"connection '{pr.name}' (event-driven)")
            pr = pr.with_(update=statements, method_used=used)
        if pr.clock_odes:
            # clock-driven equations: one step of dt, like a population's
            statements, used = integrate_odes(pr.clock_odes, method=method or pr.method,
                                              dt=sympy.Float(program.dt * pr.time_scale),
                                              where=f"connection '{pr.name}' (clock-driven)")
            pr = pr.with_(clock_update=statements, clock_method_used=used)
        projs[key] = pr
    return program.with_(populations=pops, projections=projs,
                         passes=[*program.passes, "integrate"])
