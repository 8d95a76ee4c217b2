"""A network trained by BPTT as a stack of fused multi-step layers (see
:mod:`snncc.frontend.training` for what trains and why it equals the simulation).

Each trainable connection is a weight matrix ``W[n_pre, n_post]`` (zero and frozen where
there is no synapse); each neuron group a :class:`~snncc.runtime.layer.Layer` of its own
model, parameters and initial state, driven by ``sum_c scale_c * (s_pre @ W_c)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from snncc.frontend.training import TrainPlan
from snncc.runtime.layer import Layer
from snncc.units import second


class TrainableNetwork(torch.nn.Module):
    """The differentiable form of a network; ``forward(inputs)`` maps the encoders'
    spike trains (``[T, batch, n]`` by encoder name) to every group's spikes and final
    state."""

    def __init__(self, plan: TrainPlan, *, surrogate: str, alpha: float | None,
                 detach_reset: bool, backend: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.plan = plan
        self.weights = torch.nn.ParameterDict()
        for c in plan.connections:
            w = torch.zeros(c.n_pre, c.n_post, dtype=dtype)
            mask = torch.zeros(c.n_pre, c.n_post, dtype=dtype)
            idx = (torch.as_tensor(c.i), torch.as_tensor(c.j))
            w[idx] = torch.as_tensor(c.w, dtype=dtype)
            mask[idx] = 1.0
            self.weights[c.name] = torch.nn.Parameter(w)
            self.register_buffer(f"mask_{c.name}", mask)
        self.layers = torch.nn.ModuleDict()
        for g in plan.groups:
            states = [e.name for e in g.model.equations.diff]
            self.layers[g.name] = Layer(
                g.model, input=g.input or states[0], dt=plan.dt * second,
                params=g.params, size=g.size, surrogate=surrogate, alpha=alpha,
                detach_reset=detach_reset, backend=backend, name=g.name)

    def weight(self, name: str) -> torch.Tensor:
        """Connection ``name``'s weight matrix with the missing synapses held at 0."""
        return self.weights[name] * getattr(self, f"mask_{name}")

    def synapse_weights(self, name: str) -> torch.Tensor:
        """Connection ``name``'s weights in its synapse order (``w`` of the simulation)."""
        c = next(c for c in self.plan.connections if c.name == name)
        return self.weights[name].detach()[torch.as_tensor(c.i), torch.as_tensor(c.j)]

    def forward(self, inputs: Mapping[str, torch.Tensor]
                ) -> tuple[dict[str, torch.Tensor], dict[str, dict[str, torch.Tensor]]]:
        spikes: dict[str, torch.Tensor] = dict(inputs)
        finals: dict[str, dict[str, torch.Tensor]] = {}
        first = next(iter(inputs.values()))
        T, B = first.shape[:2]
        for g in self.plan.groups:
            x = first.new_zeros(T, B, g.size)
            for c in self.plan.connections:
                if c.post == g.name:
                    x = x + c.scale * torch.matmul(spikes[c.pre].to(x.dtype),
                                                   self.weight(c.name).to(x.dtype))
            layer: Layer = self.layers[g.name]  # type: ignore[assignment]
            state = {k: torch.as_tensor(v, dtype=x.dtype, device=x.device).expand(B, g.size)
                     for k, v in g.init.items() if k in layer.step_ir.init}
            s, final = layer.run(x, state)
            spikes[g.name], finals[g.name] = s, final
        return spikes, finals


def dense_spikes(data: Any, steps: int, batch: int, n: int, device: torch.device,
                 dtype: torch.dtype) -> torch.Tensor:
    """A spike monitor's record (since the last reset) as a ``[steps, batch, n]`` tensor
    of zeros and ones."""
    out = torch.zeros(steps, batch, n, dtype=dtype)
    if len(data.steps):
        out[torch.as_tensor(data.steps), torch.as_tensor(data.batch),
            torch.as_tensor(data.indices)] = 1.0
    return out.to(device)
