"""snncc: a compiler for spiking neural networks.

Write neuron and synapse dynamics as equation strings, wire populations into a
:class:`Network`, and ``compile()`` it into a runnable ``torch.nn.Module``.

>>> import snncc as sc
>>> from snncc.units import ms
>>> net = sc.Network(dt=0.1*ms, seed=0)
"""

from __future__ import annotations

from snncc import units
from snncc.errors import (
    BackendError,
    DataError,
    EquationSyntaxError,
    IntegrationError,
    ModelError,
    NetworkError,
    ParameterError,
    ShapeError,
    SnnccError,
    UnitError,
    UnknownNameError,
)
from snncc.frontend import library
from snncc.frontend.equations import Equations
from snncc.frontend.models import NeuronModel, SynapseModel
from snncc.frontend.monitors import PopulationRateMonitor, SpikeMonitor, StateMonitor
from snncc.frontend.network import (
    Connection,
    Network,
    NeuronGroup,
    PoissonGroup,
    SpikeGeneratorGroup,
    Subgroup,
)
from snncc.runtime.layer import Layer, SeqToANN, layer

__version__ = "0.1.0"

__all__ = [
    "BackendError", "Connection", "DataError", "EquationSyntaxError", "Equations",
    "IntegrationError", "Layer", "ModelError",
    "Network", "NetworkError", "NeuronGroup", "NeuronModel", "ParameterError",
    "PoissonGroup", "PopulationRateMonitor", "SeqToANN", "ShapeError", "SnnccError",
    "SpikeGeneratorGroup", "SpikeMonitor", "StateMonitor", "Subgroup", "SynapseModel",
    "UnitError", "UnknownNameError", "__version__", "layer", "library", "units",
]
