"""A network trained by BPTT as a stack of fused multi-step layers (see
:mod:`snncc.frontend.training` for what trains and why it equals the simulation).

Each trainable connection is a weight matrix ``W[n_pre, n_post]`` (zero and frozen where
there is no synapse); each neuron group a layer of its own model, parameters and initial
state (a :class:`~snncc.runtime.layer.CompiledLayer` that the frontend builds), driven by
``sum_c scale_c * (s_pre @ W_c)`` (one masked matrix per distinct lag of a connection,
applied to the pre spikes that many steps back). Feed-forward networks run each group's
whole sequence in one fused call; with a late (recurrent) connection the groups take one
step each in turn. The plan is plain data (:class:`TrainPlan`), filled by the frontend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from snncc.errors import NetworkError
from snncc.runtime.layer import CompiledLayer


@dataclass
class TrainConnection:
    """A trainable connection: weight ``w[k]`` of synapse ``(i[k], j[k])``, delivered as
    ``scale * w`` into the post group's ``target``, ``lag[k]`` steps after the pre spike
    (its delay, plus one if the connection is ``late``)."""

    name: str
    pre: str
    post: str
    i: np.ndarray
    j: np.ndarray
    w: np.ndarray
    scale: float
    target: str
    n_pre: int
    n_post: int
    lag: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    late: bool = False


@dataclass
class TrainCurrent:
    """A constant-current encoder's drive (``encoder``: its path in the network): its
    data (``[batch, hi - lo]``) times ``amplitude`` (SI) held in ``variable`` of neurons
    ``lo:hi`` of a group."""

    encoder: str
    variable: str
    lo: int
    hi: int
    amplitude: float


@dataclass
class TrainGroup:
    """A neuron group trained as a layer: the user's model and parameters, its input
    variable, and its initial state per neuron (SI units for models with units)."""

    name: str
    model: Any
    params: dict[str, Any]
    size: int
    input: str | None
    init: dict[str, np.ndarray]
    currents: list[TrainCurrent] = field(default_factory=list)
    base: np.ndarray | None = None  # the driven variable's own value, where no encoder is


@dataclass
class TrainPlan:
    """Groups in step order, connections, encoders (their spikes are inputs) and the
    decoders that read the outputs."""

    dt: float
    groups: list[TrainGroup] = field(default_factory=list)
    connections: list[TrainConnection] = field(default_factory=list)
    encoders: dict[str, int] = field(default_factory=dict)  # build name -> size
    traced: set[str] = field(default_factory=set)  # groups whose state is summed per step

    @property
    def stepwise(self) -> bool:
        """Whether the groups step together, one step at a time: a late (recurrent)
        connection needs it, and so does a group whose state is summed over the steps
        (a ``voltage_sum`` decoder), which the fused sequence call does not return."""
        return bool(self.traced) or any(c.late for c in self.connections)


class TrainableNetwork(torch.nn.Module):
    """The differentiable form of a network; ``forward(inputs)`` maps the encoders'
    spike trains (``[T, batch, n]`` by encoder name) to every group's spikes and final
    state. ``layers``: one compiled layer per group of ``plan``, by group name."""

    def __init__(self, plan: TrainPlan, layers: Mapping[str, CompiledLayer], *,
                 dtype: torch.dtype) -> None:
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
        self.layers = torch.nn.ModuleDict({g.name: layers[g.name] for g in plan.groups})

    def _masked(self, name: str) -> list[tuple[int, torch.Tensor]]:
        """Connection ``name``'s weight matrix per lag, missing synapses held at 0."""
        w = self.weights[name]
        return [(lag, w * getattr(self, f"mask_{name}_{lag}")) for lag in self._lags[name]]

    def synapse_weights(self, name: str) -> torch.Tensor:
        """Connection ``name``'s weights in its synapse order (``w`` of the simulation)."""
        c = next(c for c in self.plan.connections if c.name == name)
        return self.weights[name].detach()[torch.as_tensor(c.i), torch.as_tensor(c.j)]

    def _initial(self, g: TrainGroup, B: int, like: torch.Tensor) -> dict[str, torch.Tensor]:
        layer: CompiledLayer = self.layers[g.name]  # type: ignore[assignment]
        return {k: torch.as_tensor(v, dtype=like.dtype, device=like.device).expand(B, g.size)
                for k, v in g.init.items() if k in layer.step_ir.init}

    def _current(self, g: TrainGroup, currents: Mapping[str, torch.Tensor], B: int,
                 like: torch.Tensor) -> torch.Tensor | None:
        """The constant-current drive of ``g`` (``[batch, n]``, held over the run): its
        variable's own value, with the encoders' data times amplitude where they drive."""
        if not g.currents:
            return None
        base = torch.as_tensor(g.base, dtype=like.dtype, device=like.device)
        x = base.expand(B, g.size).clone()
        for c in g.currents:
            data = currents[c.encoder].to(like)
            x[:, c.lo:c.hi] = (data * c.amplitude).expand(B, c.hi - c.lo)
        return x

    def forward(self, inputs: Mapping[str, torch.Tensor],
                currents: Mapping[str, torch.Tensor] | None = None,
                steps: int | None = None
                ) -> tuple[dict[str, torch.Tensor], dict[str, dict[str, torch.Tensor]],
                           dict[str, dict[str, torch.Tensor]]]:
        """Every group's spikes ``[T, batch, n]``, its final state and, for the traced
        groups (``plan.traced``), the sum over the steps of its state after each step.
        ``inputs``: the spiking encoders' trains ``[T, batch, n]``; ``currents``: the
        constant-current encoders' data ``[batch, n]`` (then ``steps`` gives T)."""
        currents = dict(currents or {})
        tensors = [*inputs.values(), *currents.values()]
        if not tensors:
            raise NetworkError("the trained network has no encoder input")
        first = tensors[0]
        dtype = next((p.dtype for p in self.weights.values()),
                     first.dtype if first.is_floating_point() else torch.float32)
        like = first.new_zeros((), dtype=dtype)  # dtype and device of everything made here
        weights = {c.name: [(lag, m.to(dtype)) for lag, m in self._masked(c.name)]
                   for c in self.plan.connections}
        incoming = {g.name: [c for c in self.plan.connections if c.post == g.name]
                    for g in self.plan.groups}
        spikes: dict[str, torch.Tensor] = {k: v.to(dtype) for k, v in inputs.items()}
        finals: dict[str, dict[str, torch.Tensor]] = {}
        if inputs:
            T, B = next(iter(inputs.values())).shape[:2]
        else:
            T, B = int(steps or 0), max(v.shape[0] for v in currents.values())
        drive = {g.name: self._current(g, currents, B, like) for g in self.plan.groups}
        if not self.plan.stepwise:  # feed-forward: each group's whole sequence at once
            for g in self.plan.groups:
                x = like.new_zeros(T, B, g.size) if drive[g.name] is None else \
                    drive[g.name].expand(T, B, g.size).clone()
                for c in incoming[g.name]:
                    for lag, m in weights[c.name]:
                        if lag < T:
                            s = spikes[c.pre][:T - lag]
                            x[lag:] = x[lag:] + c.scale * torch.matmul(s, m)
                layer: CompiledLayer = self.layers[g.name]  # type: ignore[assignment]
                spikes[g.name], finals[g.name] = layer.run(x, self._initial(g, B, like))
            return spikes, finals, {}
        # recurrent or traced: all groups step together, in the layered order. The state
        # "after step t" of the simulation also holds what late connections delivered
        # after the group's slot, which the layers add at the start of step t + 1
        hist = {k: list(v.unbind(0)) for k, v in spikes.items()}
        state = {g.name: self._initial(g, B, like) for g in self.plan.groups}
        sums: dict[str, dict[str, torch.Tensor]] = {}
        for g in self.plan.groups:
            hist[g.name] = []

        def delivered(g: TrainGroup, t: int, late: bool) -> torch.Tensor | None:
            """The input of ``g`` at step ``t`` from its late (or its other) connections."""
            out = None
            for c in incoming[g.name]:
                for lag, m in weights[c.name] if c.late is late else ():
                    if 0 <= t - lag < T:
                        y = c.scale * torch.matmul(hist[c.pre][t - lag], m)
                        out = y if out is None else out + y
            return out

        for t in range(T):
            for g in self.plan.groups:
                x = like.new_zeros(B, g.size) if drive[g.name] is None else drive[g.name]
                early, late = delivered(g, t, False), delivered(g, t, True)
                for y in (early, late):
                    if y is not None:
                        x = x + y
                layer = self.layers[g.name]  # type: ignore[assignment]
                s, state[g.name] = layer.run(x[None], state[g.name])
                hist[g.name].append(s[0])
                if g.name in self.plan.traced:
                    acc = sums.setdefault(g.name, {})
                    for k in g.init:
                        if k in state[g.name]:
                            acc[k] = acc[k] + state[g.name][k] if k in acc else state[g.name][k]
                    if late is not None:  # it belonged to step t - 1's state (lag >= 1)
                        acc[g.input] = acc[g.input] + late  # type: ignore[index]
        for g in self.plan.groups:
            spikes[g.name], finals[g.name] = torch.stack(hist[g.name]), state[g.name]
            # delivered after the last step: in the simulation's final state already (a
            # late input means a connection into g, so g.input names its target)
            pending = delivered(g, T, True)
            if pending is not None:
                key: str = g.input  # type: ignore[assignment]
                finals[g.name] = {**finals[g.name], key: finals[g.name][key] + pending}
                if g.name in sums:
                    sums[g.name][key] = sums[g.name][key] + pending
        return spikes, finals, sums


def dense_spikes(data: Any, steps: int, batch: int, n: int, device: torch.device,
                 dtype: torch.dtype) -> torch.Tensor:
    """A spike monitor's record (since the last reset) as a ``[steps, batch, n]`` tensor
    of zeros and ones."""
    out = torch.zeros(steps, batch, n, dtype=dtype)
    if len(data.steps):
        out[torch.as_tensor(data.steps), torch.as_tensor(data.batch),
            torch.as_tensor(data.indices)] = 1.0
    return out.to(device)
