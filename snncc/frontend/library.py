"""The model library: published neuron models written as equation strings.

``library.get("cuba")`` returns a fresh :class:`NeuronModel`; ``library.names()`` lists
them. Each model's docstring (``model.doc``) cites where its equations and default
parameters come from.
"""

from __future__ import annotations

from collections.abc import Callable

from snncc.errors import NetworkError
from snncc.frontend.models import NeuronModel
from snncc.units import mV, ms

_REGISTRY: dict[str, Callable[[], NeuronModel]] = {}


def register(name: str) -> Callable[[Callable[[], NeuronModel]], Callable[[], NeuronModel]]:
    """Decorator adding a model factory to the library."""
    def deco(fn: Callable[[], NeuronModel]) -> Callable[[], NeuronModel]:
        _REGISTRY[name] = fn
        return fn
    return deco


def names() -> list[str]:
    """Names of the library models."""
    return sorted(_REGISTRY)


def get(name: str, **params: object) -> NeuronModel:
    """A fresh copy of library model ``name``, with parameters overridden by ``params``."""
    if name not in _REGISTRY:
        raise NetworkError(f"unknown library model {name!r}; available: {', '.join(names())}")
    model = _REGISTRY[name]()
    return model.with_params(**params) if params else model


@register("cuba")
def cuba() -> NeuronModel:
    return NeuronModel(
        """
        dv/dt  = (ge + gi - (v - El))/taum : volt (unless refractory)
        dge/dt = -ge/taue : volt
        dgi/dt = -gi/taui : volt
        """,
        threshold="v > Vt", reset="v = Vr", refractory=5 * ms,
        params={"taum": 20 * ms, "taue": 5 * ms, "taui": 10 * ms, "Vt": -50 * mV,
                "Vr": -60 * mV, "El": -49 * mV},
        name="cuba",
        doc="Current-based LIF with exponential synaptic currents (Brian2's CUBA example; "
            "Vogels & Abbott 2005, J. Neurosci. 25:10786, as benchmarked in Brette et al. "
            "2007, J. Comput. Neurosci. 23:349). Excitatory weight 1.62 mV, inhibitory "
            "-9 mV, p = 0.02 in the benchmark.")
