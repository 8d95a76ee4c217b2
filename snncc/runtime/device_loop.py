"""The step loop of backends whose kernels keep the host out of the loop (triton).

The host launches a chunk of steps without waiting (or replays a CUDA graph of a block of
steps), the kernels read the step number from device memory and record monitors into
preallocated device buffers, and only at the end of a chunk does the host read the
recordings back. A chunk is at most 1000 steps, fewer when the buffers would exceed
``SNNCC_RECORD_BYTES`` (256 MiB by default).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

_MAX_CHUNK = 1000
_GRAPH_STEPS = 50  # steps per CUDA graph


class DeviceLoop:
    """Runs ``step()`` (from a generated module's ``build``) over chunks of steps.

    Args:
        build: the generated ``build(S, A, M, DEVICE, DTYPE) -> step``.
        state, arrays: the network's state tensors and static device arrays.
        recorders: recorder key -> (lanes, "int8" | "float") of each monitor buffer.
        monitors: monitor name -> (kind, recorder keys, lanes or recorded count, size).
        cuda_graph: capture blocks of steps in CUDA graphs (CUDA devices only).
    """

    def __init__(self, build: Callable, state: dict[str, torch.Tensor],
                 arrays: dict[str, torch.Tensor], recorders: dict[str, tuple[int, str]],
                 monitors: dict[str, tuple], device: torch.device, dtype: torch.dtype,
                 batch: int, cuda_graph: bool = True) -> None:
        self.device, self.dtype, self.batch = device, dtype, batch
        self.monitors = monitors
        budget = int(os.environ.get("SNNCC_RECORD_BYTES", 256 << 20))
        per_step = sum(lanes * (1 if kind == "int8" else dtype.itemsize)
                       for lanes, kind in recorders.values())
        self.chunk = max(1, min(_MAX_CHUNK, budget // max(per_step, 1)))
        self.M: dict[str, torch.Tensor] = {
            "_step": torch.zeros((), dtype=torch.int64, device=device),
            "_base": torch.zeros((), dtype=torch.int64, device=device)}
        for key, (lanes, kind) in recorders.items():
            self.M[key] = torch.zeros((self.chunk, lanes), device=device,
                                      dtype=torch.int8 if kind == "int8" else dtype)
        self.step = build(state, arrays, self.M, device, dtype)
        self.use_graph = cuda_graph and device.type == "cuda"
        self.graph: torch.cuda.CUDAGraph | None = None

    def run(self, n0: int, n1: int, rec: dict[str, list]) -> None:
        """Steps ``n0 .. n1 - 1``; recordings are appended to ``rec``."""
        n = n0
        while n < n1:
            k = min(self.chunk, n1 - n)
            self.M["_step"].fill_(n)
            self.M["_base"].fill_(n)
            self._steps(k)
            self._flush(n, k, rec)
            n += k

    def _steps(self, k: int) -> None:
        """``k`` steps from ``M["_step"]``: whole blocks replayed from the CUDA graph,
        the rest launched step by step (kernels of step ``M["_step"] + j`` get the
        offset ``j``; the counter is advanced once per block)."""
        counter = self.M["_step"]
        if self.use_graph and self.graph is None and k > _GRAPH_STEPS:
            self.step(0)  # compiles every kernel before the capture
            counter.add_(1)
            k -= 1
            torch.cuda.synchronize(self.device)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for j in range(_GRAPH_STEPS):
                    self.step(j)
                counter.add_(_GRAPH_STEPS)
            self.graph = g
        if self.graph is not None:
            while k >= _GRAPH_STEPS:
                self.graph.replay()
                k -= _GRAPH_STEPS
        for j in range(k):
            self.step(j)
        counter.add_(k)

    def _flush(self, n0: int, k: int, rec: dict[str, list]) -> None:
        from snncc.kernels.spikes import compact

        for name, (kind, keys, lanes, _size) in self.monitors.items():
            if kind in ("spike", "rate"):
                flat = compact(self.M[keys[0]][:k].reshape(-1))
                rec[name].append((flat // lanes + n0, flat % lanes))
            else:
                for key in keys:
                    rec[key].append(self.M[key][:k].reshape(k, self.batch, lanes).clone())

    def describe(self) -> str:
        return (f"device step loop: chunks of {self.chunk} steps"
                + (f", CUDA graphs of {_GRAPH_STEPS} steps" if self.use_graph else ""))


def device_loop_options(gen: Any) -> tuple[dict[str, tuple[int, str]], dict[str, tuple]]:
    """The recorder and monitor specs of a generated module, as DeviceLoop takes them."""
    return ({k: (r.lanes, r.dtype) for k, r in gen.recorders.items()}, dict(gen.monitors))
