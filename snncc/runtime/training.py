"""A network trained by BPTT as a stack of fused multi-step layers (see
:mod:`snncc.frontend.training` for what trains and why it equals the simulation).

Each trainable connection is a weight matrix ``W[n_pre, n_post]`` (zero and frozen where
there is no synapse); each neuron group a :class:`~snncc.runtime.layer.Layer` of its own
model, parameters and initial state, driven by ``sum_c scale_c * (s_pre @ W_c)`` (one
masked matrix per distinct lag of a connection, applied to the pre spikes that many steps
back). Feed-forward networks run each group's whole sequence in one fused call; with a
late (recurrent) connection the groups take one step each in turn.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from snncc.frontend.training import TrainGroup, TrainPlan
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
        self._lags: dict[str, list[int]] = {}
        for c in plan.connections:
            idx = (torch.as_tensor(c.i), torch.as_tensor(c.j))
            w = torch.zeros(c.n_pre, c.n_post, dtype=dtype)
            w[idx] = torch.as_tensor(c.w, dtype=dtype)
            self.weights[c.name] = torch.nn.Parameter(w)
            self._lags[c.name] = [int(v) for v in np.unique(c.lag)]
            for lag in self._lags[c.name]:  # the synapses of each lag (delay classes)
                mask = torch.zeros(c.n_pre, c.n_post, dtype=dtype)
                sel = torch.as_tensor(c.lag == lag)
                mask[idx[0][sel], idx[1][sel]] = 1.0
                self.register_buffer(f"mask_{c.name}_{lag}", mask)
        self.layers = torch.nn.ModuleDict()
        for g in plan.groups:
            states = [e.name for e in g.model.equations.diff]
            self.layers[g.name] = Layer(
                g.model, input=g.input or states[0], dt=plan.dt * second,
                params=g.params, size=g.size, surrogate=surrogate, alpha=alpha,
                detach_reset=detach_reset, backend=backend, name=g.name)

    def _masked(self, name: str) -> list[tuple[int, torch.Tensor]]:
        """Connection ``name``'s weight matrix per lag, missing synapses held at 0."""
        w = self.weights[name]
        return [(lag, w * getattr(self, f"mask_{name}_{lag}")) for lag in self._lags[name]]

    def weight(self, name: str) -> torch.Tensor:
        """Connection ``name``'s weight matrix with the missing synapses held at 0."""
        return sum((m for _, m in self._masked(name)), torch.zeros_like(self.weights[name]))

    def synapse_weights(self, name: str) -> torch.Tensor:
        """Connection ``name``'s weights in its synapse order (``w`` of the simulation)."""
        c = next(c for c in self.plan.connections if c.name == name)
        return self.weights[name].detach()[torch.as_tensor(c.i), torch.as_tensor(c.j)]

    def _initial(self, g: TrainGroup, like: torch.Tensor) -> dict[str, torch.Tensor]:
        layer: Layer = self.layers[g.name]  # type: ignore[assignment]
        B = like.shape[-2]
        return {k: torch.as_tensor(v, dtype=like.dtype, device=like.device).expand(B, g.size)
                for k, v in g.init.items() if k in layer.step_ir.init}

    def forward(self, inputs: Mapping[str, torch.Tensor]
                ) -> tuple[dict[str, torch.Tensor], dict[str, dict[str, torch.Tensor]]]:
        first = next(iter(inputs.values()))
        dtype = next((p.dtype for p in self.weights.values()),
                     first.dtype if first.is_floating_point() else torch.float32)
        weights = {c.name: [(lag, m.to(dtype)) for lag, m in self._masked(c.name)]
                   for c in self.plan.connections}
        incoming = {g.name: [c for c in self.plan.connections if c.post == g.name]
                    for g in self.plan.groups}
        spikes: dict[str, torch.Tensor] = {k: v.to(dtype) for k, v in inputs.items()}
        finals: dict[str, dict[str, torch.Tensor]] = {}
        T, B = first.shape[:2]
        if not self.plan.stepwise:  # feed-forward: each group's whole sequence at once
            for g in self.plan.groups:
                x = first.new_zeros(T, B, g.size, dtype=dtype)
                for c in incoming[g.name]:
                    for lag, m in weights[c.name]:
                        if lag < T:
                            s = spikes[c.pre][:T - lag]
                            x[lag:] = x[lag:] + c.scale * torch.matmul(s, m)
                layer: Layer = self.layers[g.name]  # type: ignore[assignment]
                spikes[g.name], finals[g.name] = layer.run(x, self._initial(g, x))
            return spikes, finals
        # recurrent: all groups step together, in the layered order
        hist = {k: list(v.unbind(0)) for k, v in spikes.items()}
        state = {}
        for g in self.plan.groups:
            hist[g.name] = []
            state[g.name] = self._initial(g, first.new_zeros(B, g.size, dtype=dtype))
        for t in range(T):
            for g in self.plan.groups:
                x = first.new_zeros(1, B, g.size, dtype=dtype)
                for c in incoming[g.name]:
                    for lag, m in weights[c.name]:
                        if t >= lag:
                            x = x + c.scale * torch.matmul(hist[c.pre][t - lag], m)
                layer = self.layers[g.name]  # type: ignore[assignment]
                s, state[g.name] = layer.run(x, state[g.name])
                hist[g.name].append(s[0])
        for g in self.plan.groups:
            spikes[g.name], finals[g.name] = torch.stack(hist[g.name]), state[g.name]
            # what late connections delivered after the group's last step (it would be
            # added at the start of step T) is already in the simulation's final state
            pending = [(c, lag, m) for c in incoming[g.name] if c.late
                       for lag, m in weights[c.name] if lag <= T]
            if pending:
                final = dict(finals[g.name])
                key = g.input or next(iter(final))
                for c, lag, m in pending:
                    final[key] = final[key] + c.scale * torch.matmul(hist[c.pre][T - lag], m)
                finals[g.name] = final
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
