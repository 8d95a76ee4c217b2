"""PoissonInput: many independent Poisson sources into every neuron of a group, drawn
as one binomial count per neuron and step (Brian2's ``PoissonInput``).

``PoissonInput(target, "I", N=1600, rate=8*Hz, weight=87.8*pA)`` does, every step and
for every neuron of ``target``, ``I += weight * X`` with ``X ~ Binomial(N, rate*dt)``,
after the thresholds and before the resets (Brian2's synaptic slot): the same as ``N``
Poisson sources per neuron connected one-to-one with ``on_pre="I += weight"``, at the
cost of one draw per neuron instead of ``N`` synapses. How ``X`` is drawn (exactly, or
by the normal approximation for a large mean) is the IR's choice, see
:class:`snncc.ir.program.PoissonInput`.
"""

from __future__ import annotations

import math

import numpy as np

from snncc.errors import NetworkError, ParameterError, UnitError, UnknownNameError, did_you_mean
from snncc.frontend.network import NeuronGroup, Subgroup, split_group
from snncc.frontend.objects import NetworkObject
from snncc.ir import program as ir
from snncc.units import Dimension, Quantity, get_dimension, get_value

_HZ = Dimension(s=-1)


class PoissonInput(NetworkObject):
    """``N`` independent Poisson sources of rate ``rate`` into ``target_var`` of every
    neuron of ``target``: each step ``target_var += weight * X``, ``X ~ Binomial(N,
    rate*dt)``, one independent draw per neuron and step, after the thresholds and before
    the resets (like a synaptic pathway without delay; a reset of ``target_var`` in the
    same step wins, as in Brian2).

    Args:
        target: the NeuronGroup, or a slice of one (``G[a:b]``), whose neurons receive
            the input.
        target_var: the name of a variable of its model (e.g. ``"v"`` or ``"I"``).
        N: the number of sources per neuron (an integer >= 0).
        rate: the rate of each source, a constant >= 0 (``8*Hz``; a bare number means
            Hz) with ``rate * dt <= 1``.
        weight: added per source spike, a constant in the unit of ``target_var`` (a bare
            number for unitless models).
        name: shown in generated code.

    The count is drawn exactly (by inversion) when ``N * rate * dt <= 30``, else as
    ``round(N p + sqrt(N p (1 - p)) z)`` clipped to ``[0, N]`` (``z`` standard normal);
    ``sim.describe()`` and the generated code say which. String rates and weights
    (expressions) are not supported.
    """

    _kind = "poissoninput"

    def __init__(self, target: NeuronGroup | Subgroup, target_var: str, N: int,
                 rate: float | Quantity, weight: float | Quantity,
                 name: str | None = None) -> None:
        who = f"PoissonInput {name or ''}".strip()
        group = target.parent if isinstance(target, Subgroup) else target
        if not isinstance(group, NeuronGroup):
            raise NetworkError(f"{who}: target must be a NeuronGroup or a slice of one "
                               f"(G[a:b]), got {target!r}")
        if not isinstance(target_var, str) or not target_var.isidentifier():
            raise ParameterError(f"{who}: target_var must be the name of a variable of "
                                 f"the target's model (e.g. 'v'), got {target_var!r}")
        if isinstance(N, (bool, np.bool_)) or not isinstance(N, (int, np.integer)) or N < 0:
            raise ParameterError(f"{who}: N (the number of sources) must be a non-negative "
                                 f"integer, got {N!r}")
        self.target = target
        self.target_var = target_var
        self.N = int(N)
        self.rate = _rate(who, rate)
        self.weight = _constant(who, "weight", weight)
        super().__init__(name)


def _constant(who: str, what: str, value: object) -> float | Quantity:
    """``value`` if it is one finite number or quantity; strings and arrays are refused."""
    if isinstance(value, str):
        raise ParameterError(f"{who}: a string {what} ({value!r}) is not supported; give a "
                             f"constant such as 8*Hz or 0.1*mV (for a {what} that varies "
                             "use a PoissonGroup and a Connection)")
    try:
        x = np.asarray(get_value(value), dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{who}: {what} must be a number or a quantity, got "
                             f"{value!r}") from None
    if x.ndim != 0 or not math.isfinite(float(x)):
        raise ParameterError(f"{who}: {what} must be one finite value (the same for every "
                             f"neuron), got {value!r}")
    return value  # type: ignore[return-value]


def _rate(who: str, rate: object) -> float:
    """The rate in Hz (a bare number means Hz)."""
    value = _constant(who, "rate", rate)
    d = get_dimension(value)
    if not d.is_dimensionless and d != _HZ:
        raise UnitError(f"{who}: rate must be in Hz (e.g. 8*Hz), got {rate}")
    hz = float(get_value(value))
    if hz < 0:
        raise ParameterError(f"{who}: rate must be >= 0, got {rate}")
    return hz


def lower_input(obj: PoissonInput, target: ir.Population, unit_aware: bool,
                dt: float) -> ir.PoissonInput:
    """The IR of ``obj`` into the lowered ``target`` (the whole group; ``unit_aware``: its
    model has units; ``dt`` in seconds): checks the variable, the weight's unit and
    ``rate * dt``."""
    owner = f"PoissonInput '{obj.name}'"
    known = [k for k, v in target.variables.items() if v.kind != "internal"]
    var = target.variables.get(obj.target_var)
    if var is None or var.kind == "internal":
        shared = obj.target_var in target.constants
        raise UnknownNameError(
            f"{owner}: group '{target.name}' (model '{target.model_name}') has no variable "
            f"'{obj.target_var}'"
            + (" (it is a shared constant, which cannot change)" if shared else
               did_you_mean(obj.target_var, known))
            + f"; its variables: {', '.join(known) or 'none'}")
    if var.constant or var.dtype != "float":
        why = "declared (constant)" if var.constant else f"of type {var.dtype}"
        raise ParameterError(f"{owner}: variable '{obj.target_var}' of group "
                             f"'{target.name}' is {why}; a PoissonInput adds to a float "
                             "variable")
    p = obj.rate * dt
    if p > 1.0:
        raise ParameterError(
            f"{owner}: rate * dt = {obj.rate:g} Hz * {dt * 1e3:g} ms = {p:g} > 1, but each "
            "source spikes at most once per step; use a smaller dt, or more sources (N) "
            "with the rate divided among them")
    d = get_dimension(obj.weight)
    if unit_aware and var.dim is not None and d != var.dim:
        raise UnitError(f"{owner}: weight {obj.weight} has unit {_unit(d)}, but "
                        f"'{obj.target_var}' of group '{target.name}' is in "
                        f"{_unit(var.dim)}; give the weight in {_unit(var.dim)}")
    if not unit_aware and not d.is_dimensionless:
        raise UnitError(f"{owner}: weight {obj.weight} has unit {_unit(d)}, but the model "
                        f"of group '{target.name}' is unitless; give a plain number in "
                        f"the model's units")
    _, start, stop = split_group(obj.target)
    if start == 0 and stop == target.size:
        stop = -1  # the whole group
    return ir.PoissonInput(obj.name, target.name, obj.target_var, obj.N, p,
                           float(get_value(obj.weight)), obj.rate, start, stop)


def _unit(d: Dimension) -> str:
    return "1 (dimensionless)" if d.is_dimensionless else str(d)
