"""snncc: a compiler for spiking neural networks.

Write neuron and synapse dynamics as equation strings, wire populations into a
:class:`Network`, and ``compile()`` it into a runnable ``torch.nn.Module``.

>>> import snncc as sc
>>> from snncc.units import ms
>>> net = sc.Network(dt=0.1*ms, seed=0)
"""

from __future__ import annotations

from snncc import analysis, units  # analysis: numpy only, no matplotlib
from snncc.errors import (
    BackendError,
    ConfigError,
    DataError,
    EquationSyntaxError,
    IntegrationError,
    ModelError,
    NetworkError,
    NonFiniteError,
    ParameterError,
    ShapeError,
    SnnccError,
    UnitError,
    UnknownNameError,
)
from snncc.frontend import initializers, library
from snncc.frontend.assembly import (
    Assembly,
    ExcludedTypePolicy,
    IncludedTypePolicy,
    IndexPolicy,
    Projection,
)
from snncc.frontend.equations import Equations
from snncc.frontend.layers import Layer, layer
from snncc.frontend.learner import Learner
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
from snncc.frontend.nodes import Decoder, Encoder, Generator
from snncc.frontend.poisson_input import PoissonInput
from snncc.runtime.layer import SeqToANN

__version__ = "0.1.0"

__all__ = [
    "Assembly", "Decoder", "Encoder", "ExcludedTypePolicy", "Generator", "IncludedTypePolicy",
    "IndexPolicy", "Learner", "Projection", "initializers",
    "BackendError", "Connection", "DataError", "EquationSyntaxError", "Equations",
    "ConfigError", "IntegrationError", "Layer", "ModelError",
    "Network", "NetworkError", "NeuronGroup", "NonFiniteError", "NeuronModel", "ParameterError",
    "PoissonGroup", "PoissonInput", "PopulationRateMonitor", "SeqToANN", "ShapeError", "SnnccError",
    "SpikeGeneratorGroup", "SpikeMonitor", "StateMonitor", "Subgroup", "SynapseModel",
    "UnitError", "UnknownNameError", "__version__", "analysis", "layer", "library", "units",
]
