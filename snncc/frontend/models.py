"""Neuron and synapse models: equations plus event code, with default parameters.

A model is a reusable description; a :class:`~snncc.NeuronGroup` or
:class:`~snncc.Connection` instantiates it with sizes, parameter overrides and initial
values. Checking a model (names, units) happens when it is instantiated, because only
then are all parameter values known.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np
import sympy

from snncc.errors import ModelError, ParameterError, ShapeError, UnitError, check_names
from snncc.frontend.equations import RESERVED, Equations
from snncc.frontend.expressions import Expression, NameInfo, StatementBlock, sym
from snncc.units import (
    DIMENSIONLESS,
    Dimension,
    Quantity,
    get_dimension,
    get_value,
    time_to_seconds,
    unit_namespace,
)

SECOND = Dimension(s=1)
NOISE_DIM = Dimension(s=Fraction(-1, 2))  # white noise xi: second**-0.5
_UNITS = unit_namespace()


def _is_noise(name: str) -> bool:
    return name == "xi" or name.startswith("xi_")


@dataclass
class NeuronModel:
    """A neuron model written as equations.

    Args:
        equations: Brian2-style equations (see :mod:`snncc.frontend.equations`).
        threshold: spike condition, e.g. ``"v > Vt"``.
        reset: statements run for neurons that spiked, e.g. ``"v = Vr"``.
        refractory: a time (``5*ms``; a bare number means ms) or a condition string that
            is true while the neuron is refractory.
        params: default values of the constants the equations use (numbers, Quantities,
            or arrays of one value per neuron).
        method: force an integration method (``exact``, ``exponential_euler``,
            ``euler``, ``rk2``, ``rk4``, ``heun``); default: automatic.
        name: a name shown in errors and in generated code.
        doc: a description with the model's source.
        init: default initial values (numbers, Quantities or strings such as
            ``"El"``); a group's ``init=`` overrides them. Unset variables start at 0.
    """

    equations: str | Equations
    threshold: str | None = None
    reset: str | None = None
    refractory: float | Quantity | str | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    method: str | None = None
    name: str = "model"
    doc: str = ""
    init: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"model '{self.name}'"
        self.equations = Equations(self.equations, where=f"{where} equations")
        self.params = dict(self.params or {})
        self.init = dict(self.init or {})
        self._threshold = (Expression(self.threshold, where=f"{where} threshold")
                           if self.threshold is not None else None)
        if self._threshold is not None:
            _need_condition(self._threshold, "threshold", "a comparison such as 'v > Vt' "
                            "(one, or several joined by and / or)")
        self._reset = (StatementBlock(self.reset, where=f"{where} reset")
                       if self.reset is not None else None)
        self._refractory_cond = None
        if isinstance(self.refractory, str):
            self._refractory_cond = Expression(self.refractory, where=f"{where} refractory")
            _need_condition(self._refractory_cond, "refractory condition",
                            "a condition such as 'v > Vt' (true while refractory), or a "
                            "time such as refractory=5*ms (a Quantity, not a string)")
        elif self.refractory is not None:
            secs = time_to_seconds(self.refractory, f"{where}: refractory")
            if secs < 0:
                raise ParameterError(f"{where}: refractory must be >= 0, got "
                                     f"{self.refractory}")
        for eq in self.equations.diff:
            if "event-driven" in eq.flags:
                raise ModelError(f"{where}: the differential equation for '{eq.name}' (line "
                                 f"{eq.line}) is marked (event-driven), which only synapse "
                                 "models support; remove the flag")
        check_given(where, self.equations, self.params, self._code_names(), self.init)

    def _code_names(self) -> set[str]:
        """Declared parameters and the undeclared constants the model's code uses."""
        return _declared_and_used(self.equations, self._threshold, self._reset,
                                  self._refractory_cond)

    def parameter_names(self) -> set[str]:
        """The names ``params=`` may set: declared parameters, default parameters and
        the undeclared constants the model's code uses."""
        return self._code_names() | set(self.params)

    def with_params(self, **params: object) -> NeuronModel:
        """A copy with some default parameters changed."""
        return replace(self, params={**self.params, **params})

    def __repr__(self) -> str:
        return f"NeuronModel({self.name!r})"


@dataclass
class SynapseModel:
    """A synapse model: per-synapse variables and the code run on spikes.

    Args:
        equations: per-synapse parameters (``w : volt``), subexpressions, and
            differential equations flagged ``(event-driven)`` (advanced exactly from the
            last event just before event code runs; they may read only synaptic
            variables) or ``(clock-driven)`` (integrated every step for every synapse,
            after the neurons' state update and before events and resets; they may read
            ``x_pre`` / ``x_post``, and bare names that are not synaptic mean the
            postsynaptic neuron's). Neither kind may depend on the other's variables.
        on_pre: statements run when a presynaptic spike arrives, e.g. ``"ge += w"``;
            unsuffixed names that are not synaptic variables refer to the postsynaptic
            neuron; ``x_pre`` / ``x_post`` name either side explicitly.
        on_post: statements run when the postsynaptic neuron spikes.
        delay: default transmission delay (a time; a bare number means ms).
        params: default values of the constants the code uses.
        method: force the integration method of the differential equations.
        name: a name shown in errors and in generated code.
        doc: a description with the model's source.
    """

    equations: str | Equations = ""
    on_pre: str | None = None
    on_post: str | None = None
    delay: float | Quantity | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    method: str | None = None
    name: str = "synapse"
    doc: str = ""

    def __post_init__(self) -> None:
        where = f"synapse model '{self.name}'"
        self.equations = Equations(self.equations or "", where=f"{where} equations")
        self.params = dict(self.params or {})
        self._on_pre = StatementBlock(self.on_pre, where=f"{where} on_pre") if self.on_pre \
            else None
        self._on_post = (StatementBlock(self.on_post, where=f"{where} on_post")
                         if self.on_post else None)
        if self.delay is not None:
            d = time_to_seconds(self.delay, f"{where}: delay")
            if d < 0:
                raise ParameterError(f"{where}: delay must be >= 0, got {self.delay}")
        for eq in self.equations.diff:
            if "clock-driven" not in eq.flags and "event-driven" not in eq.flags:
                raise ModelError(f"{where}: differential equation for '{eq.name}' (line "
                                 f"{eq.line}) needs a flag: (event-driven) or (clock-driven)")
        check_given(where, self.equations, self.params,
                    _declared_and_used(self.equations, self._on_pre, self._on_post))

    def parameter_names(self) -> set[str]:
        """The names ``params=`` may set: declared and default parameters and the
        undeclared names its code uses (constants, or the postsynaptic neuron's)."""
        return _declared_and_used(self.equations, self._on_pre, self._on_post) | set(
            self.params)

    def __repr__(self) -> str:
        return f"SynapseModel({self.name!r})"


def _need_condition(expr: Expression, what: str, expected: str) -> None:
    """Refuse an expression that is not a truth value (``threshold="v"``), when the
    model is made; an :class:`EquationSyntaxError` at the expression."""
    def condition(node: ast.expr) -> bool:
        if isinstance(node, ast.Compare):
            return True
        if isinstance(node, ast.BoolOp):
            return all(condition(v) for v in node.values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return True
        return isinstance(node, ast.Constant) and isinstance(node.value, bool)

    if not condition(expr.tree):
        raise expr.error(f"the {what} must be a condition", 0, expected=expected)


PARAMS_FIX = "params= sets the model's parameters and the constants its code uses"


def check_given(where: str, equations: Equations, params: Mapping[str, object],
                known: set[str], init: Mapping[str, object] | None = None) -> None:
    """Refuse a name in ``params=`` that is not in ``known`` (state variables and
    subexpressions are left to lowering, which refuses them with their own message) and,
    with ``init``, a name in ``init=`` that is neither a state variable nor a parameter."""
    check_names(where, "parameter", [k for k in params if k not in equations.equations],
                known, fix=PARAMS_FIX)
    if init is not None:
        check_names(where, "initial value", init,
                    [e.name for e in (*equations.diff, *equations.parameters)],
                    fix="init= sets state variables and parameters of the model")


def _declared_and_used(equations: Equations, *code: Expression | StatementBlock | None
                       ) -> set[str]:
    """The declared parameters and the names the equations and code use without
    declaring them (the constants that ``params=`` gives), reserved names left out."""
    used: set[str] = set()
    for eq in equations.equations.values():
        if eq.expr is not None:
            used |= eq.expr.names()
    for c in code:
        if c is not None:
            used |= c.names()
    if is_unit_aware(equations):  # units are not parameters of a unit-aware model
        used -= set(_UNITS)
    used = {n for n in used - set(equations.equations) - RESERVED if not _is_noise(n)}
    return used | {e.name for e in equations.parameters}


# ---------------------------------------------------------------------------- scopes
def check_param_value(owner: str, name: str, value: object, declared: Dimension | None,
                      unit_aware: bool, what: str = "parameter") -> None:
    """Raise a UnitError if ``value`` does not have the declared dimension (``what``
    names the value in the message: "parameter", "initial value of")."""
    if not unit_aware or declared is None:
        return
    d = get_dimension(_number_or_quantity(owner, name, value, dim=True))
    if d != declared:
        if d.is_dimensionless and not isinstance(value, Quantity):
            raise UnitError(f"{owner}: {what} '{name}' has dimension {declared} but was "
                            f"given the plain number {value!r}; give it with units, "
                            f"e.g. {value!r}*{_example_unit(declared)}")
        raise UnitError(f"{owner}: {what} '{name}' must have dimension {declared}, "
                        f"got {value}; give it in {_example_unit(declared)}")


def _example_unit(d: Dimension) -> str:
    for name in ("mV", "ms", "nA", "nS", "pF", "Hz", "Mohm", "volt", "second", "amp"):
        if _UNITS[name].dim == d:
            return name
    return str(d)


class Scope:
    """Resolves the names of one model instance to symbols, numbers and dimensions.

    ``variables`` maps a variable name to its dimension; ``constants`` holds shared
    parameter values (SI), to be folded by the ``specialize`` pass; ``subexpressions``
    are expanded where used. ``unit_aware`` switches dimension checking on.
    """

    def __init__(self, owner: str, *, unit_aware: bool, time_scale: float) -> None:
        self.owner = owner
        self.unit_aware = unit_aware
        self.time_scale = time_scale
        self.variables: dict[str, Dimension | None] = {}
        self.symbols: dict[str, sympy.Expr] = {}
        self.constants: dict[str, float] = {}
        self.const_dims: dict[str, Dimension | None] = {}
        self.subexpressions: dict[str, Expression] = {}
        self.sub_dims: dict[str, Dimension | None] = {}
        self._sub_cache: dict[str, tuple[sympy.Expr, Dimension | None]] = {}
        self._expanding: list[str] = []
        self.extra: dict[str, NameInfo] = {}

    def dim(self, d: Dimension | None) -> Dimension | None:
        return d if self.unit_aware else None

    def add_variable(self, name: str, dim: Dimension | None,
                     symbol: sympy.Expr | None = None) -> None:
        self.variables[name] = self.dim(dim)
        self.symbols[name] = symbol if symbol is not None else sym(name)

    def add_constant(self, name: str, value: float) -> None:
        self.constants[name] = float(value)

    def resolve(self, name: str) -> NameInfo | None:
        if name in self.extra:
            return self.extra[name]
        if name in self.variables:
            return NameInfo(self.symbols[name], self.variables[name])
        if name in self.subexpressions:
            expr, d = self.expand(name)
            return NameInfo(expr, d)
        if name in self.constants:
            return NameInfo(sym(name), self.const_dims.get(name))
        if name == "t":
            return NameInfo(sym("t"), self.dim(SECOND))
        if name == "dt":
            return NameInfo(sym("dt"), self.dim(SECOND))
        if _is_noise(name):
            return NameInfo(sym(name), self.dim(NOISE_DIM))
        if name == "pi":
            return NameInfo(sympy.pi, self.dim(DIMENSIONLESS))
        if name in _UNITS and self.unit_aware:
            u = _UNITS[name]
            return NameInfo(sympy.Float(get_value(u)), u.dim)
        return None

    def expand(self, name: str) -> tuple[sympy.Expr, Dimension | None]:
        if name in self._sub_cache:
            return self._sub_cache[name]
        if name in self._expanding:
            cycle = " -> ".join([*self._expanding, name])
            raise ModelError(f"{self.owner}: subexpressions refer to each other in a cycle: "
                             f"{cycle}")
        self._expanding.append(name)
        try:
            e = self.subexpressions[name]
            expr, d = e.to_sympy(self.resolve, check_units=self.unit_aware)
            declared = self.sub_dims.get(name)
            if self.unit_aware and declared is not None and d is not None and d != declared \
                    and expr != 0:
                raise e.error(f"subexpression '{name}' is declared as {declared} but its "
                              f"expression has dimension {d}", 0, kind=UnitError)
        finally:
            self._expanding.pop()
        self._sub_cache[name] = (expr, d)
        return expr, d


def is_unit_aware(equations: Equations, *param_sets: Mapping[str, object]) -> bool:
    """A model is unit-aware if any line has a non-trivial unit or any parameter value
    carries a dimension; otherwise it is unitless (times in ms)."""
    if any(e.dim is not None and not e.dim.is_dimensionless
           for e in equations.equations.values()):
        return True
    for params in param_sets:
        for v in params.values():
            if isinstance(v, Quantity) and not get_dimension(v).is_dimensionless:
                return True
    return False


def _number_or_quantity(owner: str, name: str, value: object, dim: bool = False) -> object:
    """``value`` itself if it is a number, an array of numbers or a Quantity (with
    ``dim``: one whose dimension can be read, so no mix of units in a list)."""
    try:
        np.asarray(get_value(value), dtype=np.float64)
        if dim:
            get_dimension(value)
    except UnitError as exc:
        if "mixes dimensions" not in str(exc):
            raise _not_a_number(owner, name, value) from None
        raise UnitError(f"{owner}: '{name}': {exc}; give all values in one unit, e.g. "
                        "np.array([...])*mV") from None
    except (TypeError, ValueError):
        raise _not_a_number(owner, name, value) from None
    return value


def _not_a_number(owner: str, name: str, value: object) -> ParameterError:
    return ParameterError(f"{owner}: '{name}' must be a number, a Quantity (e.g. 5*mV) or an "
                          f"array of numbers, got {type(value).__name__} {value!r} "
                          "(expression strings are allowed in init= only)")


def value_array(owner: str, name: str, value: object, size: int) -> float | np.ndarray:
    """A parameter value as a float or a float64 array of ``size`` values."""
    arr = np.asarray(get_value(_number_or_quantity(owner, name, value)), dtype=np.float64)
    if np.isnan(arr).any():
        raise ParameterError(f"{owner}: '{name}' contains NaN; give finite values")
    if arr.ndim == 0:
        return float(arr)
    if arr.shape != (size,):
        raise ShapeError(f"{owner}: '{name}' has shape {arr.shape}, expected a single value "
                         f"or one value per element, shape ({size},)")
    return arr


__all__ = ["DIMENSIONLESS", "NeuronModel", "Scope", "SynapseModel", "check_param_value",
           "is_unit_aware", "value_array"]
