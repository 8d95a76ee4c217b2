"""The IR of a multi-step layer: one time step of a neuron model as a map
``(state, input) -> (spike, new state)``, and, after :func:`snncc.passes.autodiff`, its
backward.

Symbol names used in the expressions (all ``real`` sympy symbols):

* a state variable ``x`` (its value at the start of the step), ``_h_x`` (after the state
  update, before threshold and reset); the input variable and parameters by their names;
* ``_nr``: 1.0 while the neuron may spike (not refractory), else 0.0;
* backward: ``_g_s`` (gradient of the loss with respect to this step's spike), ``_g_x``
  (with respect to ``x`` after this step), ``_s`` (this step's spike, recomputed), the
  saved values by their names. The backward assigns ``_gn_x`` (gradient with respect to
  ``x`` before the step), ``_g_in`` (with respect to the input) and accumulates
  ``_gp_p`` (with respect to parameter ``p``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import sympy

from snncc.ir.statements import Statement


@dataclass
class LayerTensor:
    """A parameter that is a tensor of the layer rather than a folded constant:
    ``shared`` (one value) or per neuron; ``trainable`` ones get gradients. ``value``
    is in the model's units (SI for models with units)."""

    name: str
    shared: bool
    trainable: bool
    value: np.ndarray


@dataclass
class SavedValue:
    """One value per neuron and step that the forward stores for the backward."""

    name: str
    expr: sympy.Expr  # in forward symbols (states, ``_h_*``, threshold distance)
    why: str


@dataclass
class LayerStep:
    """One step of a layer. ``update`` assigns temporaries and ``_h_x`` for each state;
    ``unless_refractory`` states keep their old value while refractory. A spike is
    ``threshold_arg > 0`` (``>= 0`` unless ``strict``) while not refractory; then each
    state in ``reset`` takes its expression (of the ``_h_*`` symbols). While refractory an
    ``unless_refractory`` state ``x`` takes ``hold[x]`` (default: its old value); a state
    driven by a jump input holds ``x + _in``, as Brian2 still applies a synaptic increment
    to a clamped variable."""

    name: str
    model_name: str
    equations_text: str
    threshold_text: str
    reset_text: str
    method_used: str
    states: tuple[str, ...]
    init: dict[str, float]
    input: str
    tensors: dict[str, LayerTensor]
    update: list[Statement]
    threshold_arg: sympy.Expr
    strict: bool
    reset: dict[str, sympy.Expr]
    unless_refractory: tuple[str, ...] = ()
    hold: dict[str, sympy.Expr] = field(default_factory=dict)
    refractory_steps: int | None = None  # absolute refractory period, in steps
    refractory_condition: sympy.Expr | None = None  # Brian2-style condition on the state
    # refractoriness as statements (made by passes.layer; backends only print them):
    # bookkeeping states and their initial values (``_since``: steps since the last spike,
    # saturating at the period; ``_notref``: 1.0 once the condition released the neuron),
    # ``gate``: their update and the not-refractory mask ``_nr`` (1.0 / 0.0), run before
    # the update; ``holds``: the (unless refractory) states kept while refractory, after
    # the update; ``aux_reset``: the bookkeeping states' values where the neuron spiked
    aux: dict[str, float] = field(default_factory=dict)
    gate: list[Statement] = field(default_factory=list)
    holds: list[Statement] = field(default_factory=list)
    aux_reset: dict[str, sympy.Expr] = field(default_factory=dict)
    dt: float = 1.0  # in model time units
    # filled in by autodiff
    surrogate: str = ""
    alpha: float = 0.0
    detach_reset: bool = False
    saved: list[SavedValue] = field(default_factory=list)
    recompute: list[Statement] = field(default_factory=list)
    backward: list[Statement] = field(default_factory=list)
    backward_reads_input: bool = False
    plan: str = ""

    @property
    def refractory(self) -> bool:
        return self.refractory_steps is not None or self.refractory_condition is not None

    @property
    def trainable(self) -> list[str]:
        return [k for k, t in self.tensors.items() if t.trainable]

    def held(self, x: str) -> sympy.Expr:
        """The value of ``unless_refractory`` state ``x`` while refractory."""
        return self.hold.get(x, sympy.Symbol(x, real=True))

    def with_(self, **changes: object) -> LayerStep:
        return replace(self, **changes)


def h(name: str) -> str:
    """The symbol name of state ``name`` after the update, before reset."""
    return f"_h_{name}"


__all__ = ["LayerStep", "LayerTensor", "SavedValue", "h"]
