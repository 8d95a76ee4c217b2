"""The step loops that ``CompiledNetwork.run`` drives, one chunk of steps at a time.

``HostLoop`` (backends whose ``loop`` is ``"host"``, such as torch) calls the generated
``step(n, rec)`` once per step; ``DeviceLoop`` (``loop == "device"``, such as triton)
launches a chunk of steps without waiting (or replays a CUDA graph of a block of steps),
its kernels read the step number from device memory and record monitors into
preallocated device buffers, and only at the end of a chunk does the host read the
recordings back. A chunk is at most 1000 steps (fewer for the device loop
when its buffers would exceed ``SNNCC_RECORD_BYTES``, 256 MiB by default).

Both loops count the steps of the current chunk that completed (``done``), so the run can
keep exactly those steps' recordings when a chunk ends early: Ctrl-C (deferred by
:class:`Interrupt` to the end of the step it arrives in) or an exception.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

import numpy as np
import torch

from snncc.backends.common import Generated

_MAX_CHUNK = 1000
_GRAPH_STEPS = 50  # steps per CUDA graph


class Interrupt:
    """Within ``with Interrupt() as stop:``, Ctrl-C (SIGINT) sets ``stop.requested``
    instead of raising inside a step; the loops end the chunk after the step it arrived
    in and call :meth:`deliver`. A second Ctrl-C raises ``KeyboardInterrupt`` at once.
    In the main thread only, and not where SIGINT is ignored; a handler installed before
    (Brian2 installs one, say) is called at the end of the step instead of Python's."""

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def deliver(self, message: str) -> None:
        """Hand the Ctrl-C that arrived to whoever handled it before the run: raise
        ``KeyboardInterrupt(message)`` for Python's default handler, else call that
        handler."""
        old = self._old
        if callable(old) and old is not signal.default_int_handler:
            try:
                old(signal.SIGINT, None)
            except KeyboardInterrupt as exc:
                if exc.args:
                    raise
                raise KeyboardInterrupt(message) from None
            return
        raise KeyboardInterrupt(message)

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            old = signal.getsignal(signal.SIGINT)
            if old is not signal.SIG_IGN and old is not None:
                self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None


class _StateSink:
    """What generated torch code appends a state monitor's row to (``rec[key]``): the
    rows go straight into the destination (the host array on the CPU, a device buffer on
    other devices)."""

    def __init__(self, dest: torch.Tensor) -> None:
        self.dest = dest
        self.n = 0

    def append(self, row: torch.Tensor) -> None:
        self.dest[self.n].copy_(row)
        self.n += 1


class HostLoop:
    """Drives the generated ``step(n, rec)`` of a backend whose ``loop`` is ``"host"``.

    Args:
        step: the generated step function.
        monitors: monitor name -> (kind, recorder keys) (``"spike"``, ``"rate"``: one key,
            the monitor name; ``"state"``: ``"<monitor>.<var>"`` per variable).
        device, dtype: where and in which dtype the network runs.
    """

    chunk = _MAX_CHUNK

    def __init__(self, step: Callable, monitors: dict[str, tuple[str, list[str]]],
                 device: torch.device, dtype: torch.dtype) -> None:
        self.step = step
        self.monitors = monitors
        self.device, self.dtype = device, dtype
        self.done = 0
        self.partial = False  # a step began and did not finish
        self._rec: dict[str, Any] = {}
        self._staging: dict[str, torch.Tensor] = {}

    def run_chunk(self, n: int, k: int, views: dict[str, np.ndarray], stop: Interrupt) -> None:
        """Steps ``n .. n + k - 1``; state monitor rows go into ``views`` (``[k, batch,
        n_record]`` float64 host arrays). Ends early when ``stop.requested``."""
        self.done, self.partial = 0, False
        rec: dict[str, Any] = {}
        for name, (kind, keys) in self.monitors.items():
            if kind == "state":
                for key in keys:
                    rec[key] = _StateSink(self._dest(key, views[key]))
            else:
                rec[name] = []
        self._rec = rec
        step = self.step
        for j in range(k):
            self.partial = True
            step(n + j, rec)
            self.partial = False
            self.done = j + 1
            if stop.requested:
                break

    def _dest(self, key: str, view: np.ndarray) -> torch.Tensor:
        if self.device.type == "cpu":
            return torch.from_numpy(view)
        buf = self._staging.get(key)
        if buf is None or buf.shape != view.shape:
            buf = torch.empty(view.shape, device=self.device, dtype=self.dtype)
            self._staging[key] = buf
        return buf

    def spikes(self, name: str, n: int, done: int) -> tuple[np.ndarray, np.ndarray]:
        """Step and flat index (``batch * size + neuron``) of the spikes recorded by
        monitor ``name`` in the first ``done`` steps of the chunk that began at ``n``."""
        entries = [(m, ix) for m, ix in self._rec.get(name, []) if m < n + done]
        if not entries:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        counts = [int(ix.numel()) for _, ix in entries]
        steps = np.repeat(np.asarray([m for m, _ in entries], np.int64), counts)
        return steps, torch.cat([ix for _, ix in entries]).cpu().numpy()

    def states(self, key: str, view: np.ndarray, done: int) -> None:
        """The first ``done`` rows of state recorder ``key`` into ``view``."""
        if self.device.type != "cpu" and done:
            torch.from_numpy(view[:done]).copy_(self._staging[key][:done])

    def describe(self) -> str:
        return f"host step loop: chunks of {self.chunk} steps"


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
        self.done = 0
        self.partial = False

    def run_chunk(self, n: int, k: int, views: dict[str, np.ndarray], stop: Interrupt) -> None:
        """Launches steps ``n .. n + k - 1`` (``k <= chunk``): whole blocks replayed from
        the CUDA graph, the rest step by step (kernels of step ``M["_step"] + j`` get the
        offset ``j``; the counter is advanced once per block). Ends early when
        ``stop.requested``; ``done`` counts the steps launched."""
        self.done, self.partial = 0, False
        self.M["_step"].fill_(n)
        self.M["_base"].fill_(n)
        counter = self.M["_step"]
        if self.use_graph and self.graph is None and k > _GRAPH_STEPS:
            self._launch(lambda: self.step(0), 1)  # compiles every kernel before the capture
            counter.add_(1)
            k -= 1
            if stop.requested:
                return
            torch.cuda.synchronize(self.device)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for j in range(_GRAPH_STEPS):
                    self.step(j)
                counter.add_(_GRAPH_STEPS)
            self.graph = g
        if self.graph is not None:
            while k >= _GRAPH_STEPS and not stop.requested:
                self._launch(self.graph.replay, _GRAPH_STEPS)
                k -= _GRAPH_STEPS
        j = 0
        while j < k and not stop.requested:
            self._launch(lambda: self.step(j), 1)  # noqa: B023 - called at once
            j += 1
        counter.add_(j)

    def _launch(self, fn: Callable[[], object], steps: int) -> None:
        self.partial = True
        fn()
        self.partial = False
        self.done += steps

    def spikes(self, name: str, n: int, done: int) -> tuple[np.ndarray, np.ndarray]:
        """Step and flat index (``batch * size + neuron``) of the spikes recorded by
        monitor ``name`` in the first ``done`` steps of the chunk that began at ``n``."""
        from snncc.kernels.spikes import compact

        _, keys, lanes, _size = self.monitors[name]
        flat = compact(self.M[keys[0]][:done].reshape(-1))
        return (flat // lanes + n).cpu().numpy(), (flat % lanes).cpu().numpy()

    def states(self, key: str, view: np.ndarray, done: int) -> None:
        """The first ``done`` rows of state recorder ``key`` into ``view``."""
        if done:
            torch.from_numpy(view[:done]).copy_(
                self.M[key][:done].reshape(done, self.batch, -1))

    def describe(self) -> str:
        return (f"device step loop: chunks of {self.chunk} steps"
                + (f", CUDA graphs of {_GRAPH_STEPS} steps" if self.use_graph else ""))


def device_loop_options(gen: Generated) -> tuple[dict[str, tuple[int, str]],
                                                dict[str, tuple]]:
    """The recorder and monitor specs of a generated module, as DeviceLoop takes them."""
    return ({k: (r.lanes, r.dtype) for k, r in gen.recorders.items()}, dict(gen.monitors))
