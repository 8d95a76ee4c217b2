"""CompiledNetwork: a compiled network as a ``torch.nn.Module``.

State variables are buffers (``state_dict`` round-trips exactly, RNG state and step
counter included); ``run(duration)`` continues from the current state; monitors bound
to the network see the recorded data after each run.
"""

from __future__ import annotations

import hashlib
import linecache
import os
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snncc.errors import NetworkError, ParameterError
from snncc.ir import program as ir
from snncc.units import Quantity, time_to_seconds

_DTYPES = {"float": None, "int": torch.int64, "bool": torch.bool, "int8": torch.int8}


def cache_dir() -> Path:
    """Where generated sources are kept: ``$SNNCC_CACHE_DIR`` or ``~/.cache/snncc``."""
    return Path(os.environ.get("SNNCC_CACHE_DIR") or Path.home() / ".cache" / "snncc")


def write_cached_source(source: str, backend: str) -> Path | None:
    """Write ``source`` to the cache under its content hash (so tracebacks and debuggers
    show the generated lines); returns the path, or None if the cache is not writable."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    path = cache_dir() / backend / f"step_{digest}.py"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(source)
            os.replace(tmp, path)
    except OSError:
        return None
    return path


_LOADED: dict[str, tuple[Path | None, Any]] = {}  # source hash -> (path, build)
_MAX_LOADED = 64


def load_generated(source: str, backend: str) -> tuple[Path | None, Any]:
    """Execute a generated module once per process and content: the same network compiled
    again gets the same ``build`` (and so the same already-JIT-compiled Triton kernels).
    Returns the cached source file (None if the cache is not writable) and ``build``."""
    digest = hashlib.sha256(source.encode()).hexdigest()
    if digest in _LOADED:
        return _LOADED[digest]
    path = write_cached_source(source, backend)
    filename = str(path or f"<snncc {backend} {digest[:20]}>")
    # Triton reads kernel sources through linecache: make them available even when the
    # cache directory is not writable
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True),
                                 filename)
    namespace: dict[str, Any] = {"__name__": f"snncc_generated_{digest[:20]}"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own source
    if len(_LOADED) >= _MAX_LOADED:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[digest] = (path, namespace["build"])
    return _LOADED[digest]


def resolve_device(device: Any) -> torch.device:
    """The torch device for ``device`` (default CPU); a ParameterError for one torch does
    not know or this machine cannot use."""
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ParameterError(f"unknown device {device!r} ({exc}); use 'cpu', 'cuda' or "
                             "'cuda:0'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device {device!r} was requested but CUDA is not available "
                             "here; use device='cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ParameterError(f"device {device!r} does not exist; this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    return dev


def auto_backend(device: torch.device) -> str:
    """``backend="auto"``: triton on a CUDA device where Triton is installed, else torch."""
    if device.type == "cuda":
        import importlib.util

        if importlib.util.find_spec("triton") is not None:
            return "triton"
    return "torch"


def _buffer_name(key: str) -> str:
    return key.replace(".", "__")


class CompiledNetwork(torch.nn.Module):
    """A runnable network. Build it with ``Network.compile()``.

    Attributes:
        program: the IR after the passes (``describe()`` summarises it).
        dt: time step in seconds.
        t: current time in seconds.
    """

    def __init__(self, program: ir.Program, *, backend: str = "torch",
                 device: str | torch.device | None = None, dtype: torch.dtype | None = None,
                 monitors: dict[str, Any] | None = None, compile_seconds: float = 0.0,
                 cuda_graph: bool = True) -> None:
        super().__init__()
        from snncc.backends import get_backend

        self.program = program
        self.backend_name = backend
        self.device = resolve_device(device)
        self.dtype = dtype or torch.float32
        if self.dtype not in (torch.float32, torch.float64):
            raise ParameterError(f"dtype must be torch.float32 or torch.float64, got "
                                 f"{self.dtype}")
        self.dt = program.dt
        self._monitors = monitors or {}
        t0 = time.perf_counter()
        backend_module = get_backend(backend)
        if hasattr(backend_module, "check_device"):
            backend_module.check_device(self.device)
        gen = backend_module.generate(program)
        self._gen_info = gen
        self._cuda_graph = cuda_graph
        self._source = gen.source
        self._keys: list[str] = []
        B = program.batch
        for pop in program.populations.values():
            for name, var in pop.variables.items():
                self._add_state(f"{pop.name}.{name}", (B, pop.size), var.dtype, var.init)
        for pr in program.projections.values():
            for name, var in pr.variables.items():
                self._add_state(f"{pr.name}.{name}", (B, pr.n_synapses), var.dtype, var.init)
        for k, spec in gen.state.items():
            self._add_state(k, spec.shape, spec.dtype, spec.init)
        self.register_buffer("_step", torch.zeros((), dtype=torch.int64))
        self.register_buffer("_rng_state", torch.zeros(0, dtype=torch.uint8))
        self._arrays = {}
        for k, arr in gen.arrays.items():
            t = torch.as_tensor(arr)
            t = t.to(self.dtype) if t.is_floating_point() else t
            self._arrays[k] = t.to(self.device)
        gen.arrays = {}  # uploaded: no second copy on the host
        self._host = gen.host
        self._gen = torch.Generator(device=self.device)
        self._gen.manual_seed(int(program.seed or 0) + 1)
        self.source_path, self._build = load_generated(self._source, backend)
        self._step_fn = None
        self._rec: dict[str, list] = defaultdict(list)
        self._rec_steps: dict[str, list] = defaultdict(list)
        self.compile_seconds = compile_seconds + (time.perf_counter() - t0)
        self.last_run_seconds = 0.0
        self._bind_monitors()

    # --------------------------------------------------------------- building
    @classmethod
    def from_network(cls, net: Any, *, backend: str = "auto", device: Any = None,
                     dtype: Any = None, batch: int = 1, method: str | None = None,
                     **options: Any) -> CompiledNetwork:
        from snncc.frontend.monitors import PopulationRateMonitor, SpikeMonitor, StateMonitor
        from snncc.passes import run_passes

        cuda_graph = bool(options.pop("cuda_graph", True))
        if options:
            raise ParameterError(f"unknown compile option(s): {', '.join(options)}; known: "
                                 "cuda_graph")
        dev = resolve_device(device)
        if backend == "auto":
            backend = auto_backend(dev)
        t0 = time.perf_counter()
        from snncc.frontend.lower import lower_network

        objects, owners = net.flatten()
        program = run_passes(lower_network(net, batch=batch, objects=objects), method=method)
        mons = {o.name: owners[o.name] for o in objects
                if isinstance(o, (SpikeMonitor, StateMonitor, PopulationRateMonitor))}
        return cls(program, backend=backend, device=dev, dtype=dtype, monitors=mons,
                   compile_seconds=time.perf_counter() - t0, cuda_graph=cuda_graph)

    def _add_state(self, key: str, shape: tuple[int, ...], dtype: str, init: object) -> None:
        tdtype = _DTYPES[dtype] or self.dtype
        value = torch.as_tensor(np.asarray(init, dtype=np.float64))
        t = torch.empty(shape, dtype=tdtype)
        t.copy_(value.to(tdtype).expand(shape) if value.ndim <= len(shape) else value)
        self.register_buffer(_buffer_name(key), t.to(self.device))
        self._keys.append(key)

    def _state(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, _buffer_name(k)) for k in self._keys}

    def _ensure_step(self) -> Any:
        if self._step_fn is None:
            if self._gen_info.loop == "device":
                from snncc.runtime.device_loop import DeviceLoop, device_loop_options

                recorders, monitors = device_loop_options(self._gen_info)
                self._step_fn = DeviceLoop(self._build, self._state(), self._arrays,
                                           recorders, monitors, self.device, self.dtype,
                                           self.program.batch, cuda_graph=self._cuda_graph)
            else:
                self._step_fn = self._build(self._state(), self._arrays, self._host,
                                            self._gen, self.device, self.dtype)
        return self._step_fn

    def _apply(self, fn: Any, recurse: bool = True) -> CompiledNetwork:  # device/dtype moves
        """``.to(device)``, ``.double()``, ...: the state buffers, the static arrays, the
        device and the dtype move together; the step function is rebuilt on next use."""
        probe = fn(torch.zeros((), dtype=self.dtype, device=self.device))
        if probe.dtype not in (torch.float32, torch.float64):  # refuse before changing anything
            raise ParameterError(f"a compiled network runs in torch.float32 or torch.float64, "
                                 f"not {probe.dtype}; the network is unchanged")
        out = super()._apply(fn, recurse)
        self._arrays = {k: fn(v) for k, v in self._arrays.items()}
        self.device, self.dtype = probe.device, probe.dtype
        self._gen = torch.Generator(device=self.device)
        if self._rng_state.numel() and self.device.type == "cpu":
            self._gen.set_state(self._rng_state.cpu())
        self._step_fn = None
        return out

    # --------------------------------------------------------------- running
    @property
    def t(self) -> float:
        """Current simulation time in seconds."""
        return int(self._step) * self.dt

    def run(self, duration: float | Quantity, *, report: bool = False) -> CompiledNetwork:
        """Simulate for ``duration`` (a time; a bare number means ms), continuing from the
        current state."""
        secs = time_to_seconds(duration, "run duration")
        if secs < 0:
            raise ParameterError(f"run duration must be >= 0, got {duration}")
        steps = int(round(secs / self.dt))
        step = self._ensure_step()
        self._rebind_monitors()
        n0 = int(self._step)
        rec = self._rec
        t0 = time.perf_counter()
        with torch.inference_mode():
            if hasattr(step, "run"):
                step.run(n0, n0 + steps, rec)
            else:
                for n in range(n0, n0 + steps):
                    step(n, rec)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.last_run_seconds = time.perf_counter() - t0
        self._step.fill_(n0 + steps)
        if report:
            print(f"simulated {secs:g} s in {self.last_run_seconds:.3f} s wall")
        self._collect(n0, n0 + steps)
        return self

    def step(self) -> CompiledNetwork:
        """Advance by one time step."""
        return self.run(self.dt * 1e3)

    # --------------------------------------------------------------- monitors
    def _bind_monitors(self) -> None:
        from snncc.frontend.monitors import RateData, SpikeData, StateData

        self._mon_data: dict[str, Any] = {}
        for name, m in self.program.monitors.items():
            pop = self.program.populations[m.target]
            if m.kind == "spike":
                d: Any = SpikeData(self.dt, np.zeros(0, np.int64), np.zeros(0, np.int64),
                                   np.zeros(0, np.int64))
            elif m.kind == "rate":
                d = RateData(self.dt, np.zeros(0, np.int64),
                             np.zeros((0, self.program.batch), np.int64))
            else:
                dims = {v: (pop.variables[v].dim if v in pop.variables else None)
                        for v in m.variables}
                d = StateData(self.dt, np.zeros(0, np.int64),
                              {v: np.zeros((0, self.program.batch, len(m.record)))
                               for v in m.variables}, dims, pop.time_scale)
            self._mon_data[name] = d
        self._rebind_monitors()

    def _rebind_monitors(self) -> None:
        """Monitors show the data of the compiled network that ran (or was built) last."""
        for name, d in self._mon_data.items():
            if name in self._monitors:
                self._monitors[name]._bind(d)

    def _truncate_monitors(self, step: int) -> None:
        """Forget recordings at or after ``step`` (after restoring an earlier state)."""
        for d in self._mon_data.values():
            keep = d.steps < step
            if hasattr(d, "indices"):
                d.indices, d.batch = d.indices[keep], d.batch[keep]
            elif hasattr(d, "counts"):
                d.counts = d.counts[keep]
            else:
                d.values = {k: v[keep] for k, v in d.values.items()}
            d.steps = d.steps[keep]

    def _collect(self, n0: int, n1: int) -> None:
        B = self.program.batch
        for name, m in self.program.monitors.items():
            d = self._mon_data[name]
            pop = self.program.populations[m.target]
            if m.kind in ("spike", "rate"):
                entries = self._rec.pop(name, [])
                if entries:
                    steps = np.concatenate([
                        np.full(int(ix.numel()), n, np.int64) if isinstance(n, int)
                        else n.cpu().numpy() for n, ix in entries])
                    flat = torch.cat([ix for _, ix in entries]).cpu().numpy()
                else:
                    steps = np.zeros(0, np.int64)
                    flat = np.zeros(0, np.int64)
                b, i = np.divmod(flat, pop.size)
                if m.kind == "spike":
                    d.steps = np.concatenate([d.steps, steps])
                    d.indices = np.concatenate([d.indices, i])
                    d.batch = np.concatenate([d.batch, b])
                else:
                    lo, hi = int(m.record[0]), int(m.record[1])
                    keep = (i >= lo) & (i < hi)
                    counts = np.zeros((n1 - n0, B), np.int64)
                    np.add.at(counts, (steps[keep] - n0, b[keep]), 1)
                    d.steps = np.concatenate([d.steps, np.arange(n0, n1)])
                    d.counts = np.concatenate([d.counts, counts])
            else:
                d.steps = np.concatenate([d.steps, np.arange(n0, n1)])
                for v in m.variables:
                    vals = self._rec.pop(f"{name}.{v}", [])
                    vals = [x if x.ndim == 3 else x[None] for x in vals]
                    arr = (torch.cat(vals).to(torch.float64).cpu().numpy() if vals
                           else np.zeros((0, B, len(m.record))))
                    d.values[v] = np.concatenate([d.values[v], arr])

    def monitor_data(self, name: str) -> Any:
        """The recorded data of monitor ``name``."""
        if name not in self._mon_data:
            raise NetworkError(f"no monitor named {name!r}; monitors: "
                               f"{', '.join(self._mon_data) or 'none'}")
        return self._mon_data[name]

    # --------------------------------------------------------------- state
    def get(self, owner: str, var: str) -> torch.Tensor:
        """The state tensor ``owner.var`` (``[batch, N]``), e.g. ``sim.get("P", "v")``."""
        k = f"{owner}.{var}"
        if k not in self._keys:
            pop = self.program.populations.get(owner)
            if pop is not None and var in pop.removed:
                raise NetworkError(f"'{owner}.{var}' was removed as dead state (it affects "
                                   "no spike, reset, synapse or monitor); record it with a "
                                   "StateMonitor to keep it")
            if pop is not None and var in pop.constants:
                raise NetworkError(f"'{owner}.{var}' is a constant folded into the code "
                                   f"(value {pop.constants[var]!r})")
            raise NetworkError(f"no state '{k}'; known: {', '.join(self._keys)}")
        return getattr(self, _buffer_name(k))

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # noqa: D102
        self._rng_state = self._gen.get_state().clone()
        return super().state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False
                        ) -> Any:  # noqa: D102
        if "_rng_state" in state_dict:
            self._rng_state = state_dict["_rng_state"].clone()
        out = super().load_state_dict(state_dict, strict=strict, assign=assign)
        if self._rng_state.numel():
            self._gen.set_state(self._rng_state.cpu())
        self._step_fn = None
        # like Brian2's restore(): recordings from after the restored time are dropped
        self._truncate_monitors(int(self._step))
        return out

    def reset_state(self, keep: Sequence[str] = ()) -> None:
        """Back to the initial state: state variables, synaptic traces, spikes in flight
        (delay ring buffers), refractory bookkeeping, the step counter and the
        recordings. Parameters (synaptic weights and other per-element values, which
        learning or the user may have changed) are kept, and so are the variables named
        in ``keep`` as ``"group.var"``. The random generator continues (a new trial gets
        new noise)."""
        keep = {keep} if isinstance(keep, str) else set(keep)
        unknown = sorted(keep - set(self._keys))
        if unknown:
            raise NetworkError(f"reset(keep=...): no state {', '.join(unknown)}; known: "
                               f"{', '.join(self._keys)}")
        init: dict[str, tuple[Any, str]] = {}
        owners = [*self.program.populations.values(), *self.program.projections.values()]
        for owner in owners:
            for name, var in owner.variables.items():
                if var.kind != "param":
                    init[f"{owner.name}.{name}"] = (var.init, var.dtype)
        for k, spec in self._gen_info.state.items():
            init[k] = (spec.init, spec.dtype)
        with torch.no_grad():
            for k, (value, _) in init.items():
                if k in keep:
                    continue
                buf = getattr(self, _buffer_name(k))
                v = torch.as_tensor(np.asarray(value, dtype=np.float64))
                buf.copy_(v.to(buf.dtype).expand(buf.shape) if v.ndim <= buf.ndim else v)
            self._step.fill_(0)
        self._rec.clear()
        self._bind_monitors()

    # --------------------------------------------------------------- inspection
    def source(self) -> str:
        """The generated source code."""
        return self._source

    def describe(self) -> str:
        """Populations, state, chosen integrators, projections and kernels."""
        kernels = self._gen_info.kernels
        what = (f"{len(kernels)} kernels a step: {', '.join(kernels)}" if kernels
                else "one generated step function")
        text = (self.program.describe()
                + f"\n  backend: {self.backend_name} on {self.device} ({self.dtype}), "
                f"{what}; compile {self.compile_seconds:.3f} s")
        if self._gen_info.loop == "device":
            text += "\n  " + self._ensure_step().describe()
        return text

    def forward(self, duration: float | Quantity) -> CompiledNetwork:  # noqa: D102
        return self.run(duration)
