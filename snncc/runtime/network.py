"""CompiledNetwork: a compiled network as a ``torch.nn.Module``.

State variables are buffers (``state_dict`` round-trips exactly, RNG state and step
counter included); ``run(duration)`` continues from the current state; monitors bound
to the network see the recorded data after each run.
"""

from __future__ import annotations

import hashlib
import json
import linecache
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snncc.backends.registry import reference, select
from snncc.errors import NetworkError, NonFiniteError, ParameterError
from snncc.ir import program as ir
from snncc.passes import run_passes
from snncc.runtime.device_loop import DeviceLoop, HostLoop, Interrupt, device_loop_options
from snncc.runtime.recording import RateData, Rows, SpikeData, StateData
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


def _buffer_name(key: str) -> str:
    return key.replace(".", "__")


def _all_finite(tensors: list[torch.Tensor]) -> list[bool]:
    """Whether each (floating-point) tensor holds only finite values: one sum per tensor
    (inf and NaN propagate), read back at once; a sum that overflowed although every value
    is finite is told apart by an exact check of that tensor."""
    sums = torch.stack([t.sum() for t in tensors]).tolist()
    return [math.isfinite(s) or bool(torch.isfinite(t).all())
            for s, t in zip(sums, tensors, strict=True)]


class CompiledNetwork(torch.nn.Module):
    """A runnable network. Build it with ``Network.compile()``.

    Attributes:
        program: the IR after the passes (``describe()`` summarises it).
        dt: time step in seconds.
        t: current time in seconds.
        check_finite: whether ``run()`` checks the state for inf/NaN once per chunk of
            steps (default True; ``net.compile(..., check_finite=False)`` or set it here).
            It raises :class:`~snncc.errors.NonFiniteError` naming the group, the
            variable and the steps. Checked: the floating-point variables of groups and
            connections that are finite when the run starts (a variable set to inf or NaN
            on purpose before the run is left alone).
    """

    def __init__(self, program: ir.Program, *, backend: str | None = None,
                 device: str | torch.device | None = None, dtype: torch.dtype | None = None,
                 monitors: dict[str, Any] | None = None, compile_seconds: float = 0.0,
                 cuda_graph: bool = True, check_finite: bool = True) -> None:
        super().__init__()
        self.program = program
        self.device = resolve_device(device)
        self.dtype = dtype or torch.float32
        if self.dtype not in (torch.float32, torch.float64):
            raise ParameterError(f"dtype must be torch.float32 or torch.float64, got "
                                 f"{self.dtype}")
        from snncc.passes.finite import number_beyond

        big = number_beyond(program, torch.finfo(self.dtype).max)
        if big is not None:
            raise ParameterError(f"the {big} is beyond the range of {self.dtype}; compile "
                                 "with dtype=torch.float64 or use smaller values")
        self.dt = program.dt
        self._monitors = monitors or {}
        t0 = time.perf_counter()
        # the reference backend unless named; "auto" picks one for the device
        self._backend = select(backend or reference().name, self.device)
        self.backend_name = self._backend.name
        self._backend.check_device(self.device)
        gen = self._backend.generate(program)
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
        self._shared: dict[str, torch.Tensor] = {}
        self._share_storage()
        self.register_buffer("_step", torch.zeros((), dtype=torch.int64))
        self.register_buffer("_rng_state", torch.zeros(0, dtype=torch.uint8))
        # what the state belongs to (sizes, connectivity, constants): checked on load
        self._structure_info = structure_of(program)
        self.register_buffer("_structure", encode_structure(self._structure_info))
        self._arrays = {}
        for k, arr in gen.arrays.items():
            t = torch.as_tensor(arr)
            t = t.to(self.dtype) if t.is_floating_point() else t
            self._arrays[k] = t.to(self.device)
        gen.arrays = {}  # uploaded: no second copy on the host
        self._host = gen.host
        self._gen = torch.Generator(device=self.device)
        self._gen.manual_seed(int(program.seed or 0) + 1)
        self.source_path, self._build = load_generated(self._source, self.backend_name)
        self._step_fn: HostLoop | DeviceLoop | None = None
        self.check_finite = check_finite
        self.compile_seconds = compile_seconds + (time.perf_counter() - t0)
        self.last_run_seconds = 0.0
        self.last_check_seconds = 0.0  # of last_run_seconds: the inf/NaN check
        self._bind_monitors()

    # --------------------------------------------------------------- building
    @classmethod
    def from_lowering(cls, lower: Callable[[int], tuple[ir.Program, dict[str, Any]]], *,
                      backend: str = "auto", device: Any = None, dtype: Any = None,
                      batch: int = 1, method: str | None = None,
                      **options: Any) -> CompiledNetwork:
        """Compile what ``lower(batch)`` returns: a network's IR before the passes and its
        monitors by name (objects with ``_bind(data)``, given the recorded data). The
        frontend passes the lowering in, so the runtime never sees a frontend object."""
        cuda_graph = bool(options.pop("cuda_graph", True))
        check_finite = bool(options.pop("check_finite", True))
        if options:
            raise ParameterError(f"unknown compile option(s): {', '.join(options)}; known: "
                                 "cuda_graph, check_finite")
        dev = resolve_device(device)
        t0 = time.perf_counter()
        lowered, mons = lower(batch)
        program = run_passes(lowered, method=method)
        return cls(program, backend=backend, device=dev, dtype=dtype, monitors=mons,
                   compile_seconds=time.perf_counter() - t0, cuda_graph=cuda_graph,
                   check_finite=check_finite)

    def _add_state(self, key: str, shape: tuple[int, ...], dtype: str, init: object) -> None:
        tdtype = _DTYPES[dtype] or self.dtype
        value = torch.as_tensor(np.asarray(init, dtype=np.float64))
        t = torch.empty(shape, dtype=tdtype)
        t.copy_(value.to(tdtype).expand(shape) if value.ndim <= len(shape) else value)
        self.register_buffer(_buffer_name(key), t.to(self.device))
        self._keys.append(key)

    def _state(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, _buffer_name(k)) for k in self._keys}

    def _share_storage(self) -> None:
        """The plan's shared storage (:class:`~snncc.ir.plan.SharedStorage`): the
        variable of its projections in one array, each projection's buffer a view of its
        slice. Done again after anything that may give the buffers storage of their own
        (a device or dtype move, loading with ``assign=True``)."""
        plan = self.program.plan
        for sh in plan.shared if plan is not None else ():
            keys = [f"{p}.{sh.variable}" for p in sh.projections]
            parts = [getattr(self, _buffer_name(k)) for k in keys]
            whole = self._shared.get(sh.key)
            if whole is not None and all(
                    t.untyped_storage().data_ptr() == whole.untyped_storage().data_ptr()
                    for t in parts):
                continue
            whole = torch.cat(parts, dim=1)
            offset = 0
            for k, t in zip(keys, parts, strict=True):
                self.register_buffer(_buffer_name(k), whole[:, offset:offset + t.shape[1]])
                offset += t.shape[1]
            self._shared[sh.key] = whole

    def _ensure_step(self) -> HostLoop | DeviceLoop:
        if self._step_fn is None:
            if self._backend.loop == "device":
                recorders, monitors = device_loop_options(self._gen_info)
                self._step_fn = DeviceLoop(self._build, {**self._state(), **self._shared},
                                           self._arrays,
                                           recorders, monitors, self.device, self.dtype,
                                           self.program.batch, cuda_graph=self._cuda_graph)
            else:
                step = self._build({**self._state(), **self._shared}, self._arrays,
                                   self._host, self._gen, self.device, self.dtype)
                mons = {name: (m.kind, [f"{name}.{v}" for v in m.variables]
                               if m.kind == "state" else [name])
                        for name, m in self.program.monitors.items()}
                self._step_fn = HostLoop(step, mons, self.device, self.dtype)
        return self._step_fn

    def _apply(self, fn: Any, recurse: bool = True) -> CompiledNetwork:  # device/dtype moves
        """``.to(device)``, ``.double()``, ...: the state buffers, the static arrays, the
        device and the dtype move together; the step function is rebuilt on next use."""
        probe = fn(torch.zeros((), dtype=self.dtype, device=self.device))
        if probe.dtype not in (torch.float32, torch.float64):  # refuse before changing anything
            raise ParameterError(f"a compiled network runs in torch.float32 or torch.float64, "
                                 f"not {probe.dtype}; the network is unchanged")
        out = super()._apply(fn, recurse)
        self._share_storage()
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
        current state.

        Steps run in chunks (at most 1000 steps); after each chunk ``t`` and the monitors
        are brought up to date and, with ``check_finite``, the state is checked for inf
        and NaN (:class:`~snncc.errors.NonFiniteError`). A run that stops early (Ctrl-C
        ends the step it arrives in; an exception) leaves ``t``, the state and the
        monitors agreeing on the steps that completed, so a later ``run()`` continues
        from there."""
        secs = time_to_seconds(duration, "run duration")
        if secs < 0:
            raise ParameterError(f"run duration must be >= 0, got {duration}")
        steps = int(round(secs / self.dt))
        loop = self._ensure_step()
        self._rebind_monitors()
        n = n0 = int(self._step)
        t0 = time.perf_counter()
        watch = self._finite_watch() if self.check_finite and steps else []
        self.last_check_seconds = time.perf_counter() - t0
        self._reserve_monitors(steps)
        with torch.inference_mode(), Interrupt() as stop:
            while n < n0 + steps:
                k = min(loop.chunk, n0 + steps - n)
                views = self._state_views(k)
                try:
                    loop.run_chunk(n, k, views, stop)
                except BaseException as exc:
                    self._commit(loop, n, loop.done, views)
                    if loop.partial:
                        exc.add_note(f"snncc: the run stopped inside step {n + loop.done}; "
                                     "t and the monitors hold the steps before it, the "
                                     "state may hold part of that step: restore a saved "
                                     "state (load_state_dict) or reset_state()")
                    raise
                self._commit(loop, n, loop.done, views)
                n += loop.done
                if stop.requested:
                    stop.deliver(f"run stopped at step {n} (t = {n * self.dt * 1e3:g} ms)")
                    stop.requested = False  # a handler of the user's took it: go on
                if watch:
                    t1 = time.perf_counter()
                    self._check_finite(watch, n - loop.done, n)
                    self.last_check_seconds += time.perf_counter() - t1
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.last_run_seconds = time.perf_counter() - t0
        if report:
            print(f"simulated {secs:g} s in {self.last_run_seconds:.3f} s wall")
        return self

    # --------------------------------------------------------------- finite check
    def _finite_watch(self) -> list[tuple[str, torch.Tensor]]:
        """The floating-point variables of groups and connections that are finite now."""
        owners = [*self.program.populations.values(), *self.program.projections.values()]
        cands = [(key, getattr(self, _buffer_name(key))) for o in owners
                 for key in (f"{o.name}.{v}" for v in o.variables) if key in self._keys]
        cands = [(k, t) for k, t in cands if t.is_floating_point() and t.numel()]
        if not cands:
            return []
        return [c for c, ok in zip(cands, _all_finite([t for _, t in cands]), strict=True)
                if ok]

    def _check_finite(self, watch: list[tuple[str, torch.Tensor]], a: int, b: int) -> None:
        """Raise NonFiniteError if a watched variable holds inf or NaN after steps
        ``a .. b - 1``."""
        flags = _all_finite([t for _, t in watch])
        bad = [kt for kt, ok in zip(watch, flags, strict=True) if not ok]
        if not bad:
            return
        key, t = bad[0]
        owner, var = key.split(".", 1)
        nonfinite = ~torch.isfinite(t)
        first = int(nonfinite.reshape(-1).nonzero()[0])
        batch, i = divmod(first, t.shape[-1])
        what = "neuron" if owner in self.program.populations else "synapse"
        where = f"{what} {i}" + (f" of batch element {batch}" if t.shape[0] > 1 else "")
        kind = "group" if what == "neuron" else "connection"
        value = float(t.reshape(-1)[first])
        became = "NaN" if math.isnan(value) else f"{value}"

        def ms(step: int) -> str:
            return f"{step * self.dt * 1e3:g} ms"

        also = (f"; also non-finite: {', '.join(k for k, _ in bad[1:])}"
                if len(bad) > 1 else "")
        raise NonFiniteError(
            f"{kind} '{owner}': variable '{var}' became {became} in steps {a} to {b - 1} "
            f"(t = {ms(a)} to {ms(b)}): {int(nonfinite.sum())} of {t.numel()} values, "
            f"first at {where}{also}. The run stopped at step {b} (t = {ms(b)}); time, "
            "state and monitors agree there. Usual causes: an unstable equation or too "
            "large a dt, log or sqrt of a negative value, a division by zero. To run on "
            "regardless: net.compile(..., check_finite=False) or sim.check_finite = False")

    def step(self) -> CompiledNetwork:
        """Advance by one time step."""
        return self.run(self.dt * 1e3)

    # --------------------------------------------------------------- monitors
    def _bind_monitors(self) -> None:
        self._mon_data: dict[str, SpikeData | StateData | RateData] = {}
        B = self.program.batch
        for name, m in self.program.monitors.items():
            pop = self.program.populations[m.target]
            if m.kind == "spike":
                d: SpikeData | StateData | RateData = SpikeData(self.dt)
            elif m.kind == "rate":
                d = RateData(self.dt, B)
            else:
                dims = {v: (pop.variables[v].dim if v in pop.variables else None)
                        for v in m.variables}
                n_rec = pop.size if m.record is None else len(m.record)
                d = StateData(self.dt, {v: (B, n_rec) for v in m.variables}, dims,
                              pop.time_scale)
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
            d.truncate_at(step)

    def _reserve_monitors(self, steps: int) -> None:
        """Room for a run of ``steps`` in the monitors that record every step."""
        for d in self._mon_data.values():
            if not isinstance(d, SpikeData):
                for c in d.columns.values():
                    c.reserve(steps)

    def _state_views(self, k: int) -> dict[str, np.ndarray]:
        """Where the next ``k`` rows of each state monitor variable go."""
        return {f"{name}.{v}": self._mon_data[name].columns[f"values.{v}"].free(k)
                for name, m in self.program.monitors.items() if m.kind == "state"
                for v in m.variables}

    def _commit(self, loop: HostLoop | DeviceLoop, n: int, done: int,
                views: dict[str, np.ndarray]) -> None:
        """Keep the recordings of steps ``n .. n + done - 1`` and advance ``t`` to
        ``n + done``."""
        for name, m in self.program.monitors.items():
            d = self._mon_data[name]
            cols: dict[str, Rows] = d.columns
            if m.kind == "state":
                for v in m.variables:
                    loop.states(f"{name}.{v}", views[f"{name}.{v}"], done)
                    cols[f"values.{v}"].commit(done)
                cols["steps"].append(np.arange(n, n + done))
                continue
            steps, flat = loop.spikes(name, n, done)
            b, i = np.divmod(flat, self.program.populations[m.target].size)
            if m.kind == "spike":
                cols["steps"].append(steps)
                cols["indices"].append(i)
                cols["batch"].append(b)
            else:
                lo, hi = int(m.record[0]), int(m.record[1])
                keep = (i >= lo) & (i < hi)
                counts = cols["counts"].free(done)
                counts[...] = 0
                np.add.at(counts, (steps[keep] - n, b[keep]), 1)
                cols["counts"].commit(done)
                cols["steps"].append(np.arange(n, n + done))
        self._step.fill_(n + done)

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

    def memory(self) -> dict[str, int]:
        """Bytes the compiled network holds on its device: ``state`` (every state buffer,
        shared storage counted once: weights, membrane potentials, delay rings, spike
        history, ...) and ``tables`` (the static arrays its step reads: connectivity by
        source, packed delays and targets, ...). The IR in :attr:`program` is apart."""
        seen: set[int] = set()
        state = 0
        for t in self.buffers():
            ptr = t.untyped_storage().data_ptr()
            if ptr not in seen:
                seen.add(ptr)
                state += t.untyped_storage().nbytes()
        tables = sum(t.numel() * t.element_size() for t in self._arrays.values())
        return {"state": state, "tables": tables}

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # noqa: D102
        self._rng_state = self._gen.get_state().clone()
        return super().state_dict(*args, **kwargs)

    def check_state_dict(self, state_dict: Any) -> dict[str, Any]:
        """Raise a NetworkError naming what differs if ``state_dict`` was saved from a
        network of another structure (group sizes, synapse counts or pairs, delays,
        parameter values, batch); returns it ready to load (a state saved before the
        structure was stored loads as before)."""
        sd = dict(state_dict)
        if "_structure" in sd:
            try:
                saved = decode_structure(sd["_structure"])
            except (TypeError, ValueError) as exc:
                raise NetworkError(f"load_state_dict: the saved '_structure' entry cannot be "
                                   f"read ({exc}); it is not a state saved by snncc") from None
            mine = (self._structure_info if saved.get("digest") == DIGEST_VERSION
                    else structure_of(self.program, legacy=True))
            diff = structure_difference(saved, mine)
            if diff:
                raise NetworkError(f"load_state_dict: the saved state is of another network: "
                                   f"{diff}; build the same network (sizes, connections, "
                                   "parameters, seed, batch) and load into that")
        sd["_structure"] = self._structure
        mine = super().state_dict()
        missing = sorted(set(mine) - set(sd))
        extra = sorted(set(sd) - set(mine))
        shapes = [k for k in mine if k in sd and k != "_rng_state" and isinstance(
            sd[k], torch.Tensor) and tuple(sd[k].shape) != tuple(mine[k].shape)]
        if missing or extra or shapes:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing[:5])}")
            if extra:
                parts.append(f"unexpected {', '.join(extra[:5])}")
            if shapes:
                k = shapes[0]
                parts.append(f"'{k}' has shape {tuple(sd[k].shape)} in the saved state, "
                             f"{tuple(mine[k].shape)} here")
            raise NetworkError(f"load_state_dict: the saved state does not fit this network "
                               f"({'; '.join(parts)}); build the same network (sizes, "
                               "connections, seed, batch) first")
        return sd

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False
                        ) -> Any:  # noqa: D102
        if strict:
            state_dict = self.check_state_dict(state_dict)
        if "_rng_state" in state_dict:
            self._rng_state = state_dict["_rng_state"].clone()
        out = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self._share_storage()
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
        if self._backend.loop == "device":
            text += "\n  " + self._ensure_step().describe()
        return text

    def forward(self, duration: float | Quantity) -> CompiledNetwork:  # noqa: D102
        return self.run(duration)


# ------------------------------------------------------------------ structure checks
DIGEST_VERSION = 2  # states saved without "digest" hashed every index array as int64


def structure_of(program: ir.Program, legacy: bool = False) -> dict[str, Any]:
    """What a saved state belongs to: per population its size and constants, per
    projection its ends, synapse count, hashes of its pairs and delays, and constants.
    The hashes read the index arrays in place as int32 where their values fit (int64
    else), so hashing 0.3 billion synapses takes seconds; ``legacy``: the hashes of
    states saved before (every array copied to int64)."""
    def digest(*arrays: Any) -> str:
        h = hashlib.sha256()
        for a in arrays:
            a = np.asarray(a)
            if legacy:
                h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
            else:
                small = a.size == 0 or (int(a.max()) < 2**31 and int(a.min()) >= -2**31)
                a = np.ascontiguousarray(a, dtype=np.int32 if small else np.int64)
                h.update(memoryview(a).cast("B"))
            h.update(b"|")
        return h.hexdigest()[:16]

    out: dict[str, Any] = {"dt": float(program.dt), "batch": int(program.batch),
                           "groups": {}, "connections": {}}
    if not legacy:
        out["digest"] = DIGEST_VERSION
    for p in program.populations.values():
        out["groups"][p.name] = {"size": int(p.size), "model": p.model_name or p.kind,
                                 "constants": {k: float(v) for k, v in p.constants.items()}}
    for pr in program.projections.values():
        out["connections"][pr.name] = {
            "pre": pr.pre, "post": pr.post, "synapses": int(pr.n_synapses),
            "pairs": digest(pr.i, pr.j), "delays": digest(pr.delay),
            "constants": {k: float(v) for k, v in pr.constants.items()}}
    return out


def encode_structure(structure: dict[str, Any]) -> torch.Tensor:
    """``structure`` as a uint8 tensor (JSON), so it travels in ``state_dict``."""
    data = json.dumps(structure, sort_keys=True).encode()
    return torch.tensor(list(data), dtype=torch.uint8)


def decode_structure(t: Any) -> dict[str, Any]:
    """The inverse of :func:`encode_structure`."""
    if not isinstance(t, torch.Tensor) or t.dtype != torch.uint8:
        raise TypeError(f"expected a uint8 tensor, got {type(t).__name__}")
    out = json.loads(bytes(t.cpu().tolist()).decode())
    if not isinstance(out, dict):
        raise ValueError("not a mapping")
    return out


def structure_difference(saved: dict[str, Any], mine: dict[str, Any]) -> str | None:
    """The first difference between two :func:`structure_of` results, in words."""
    def close(a: float, b: float) -> bool:
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))

    if not close(saved.get("dt", mine["dt"]), mine["dt"]):
        return f"dt is {saved['dt'] * 1e3:g} ms in the saved state, {mine['dt'] * 1e3:g} ms here"
    if saved.get("batch", mine["batch"]) != mine["batch"]:
        return f"batch is {saved['batch']} in the saved state, {mine['batch']} here"
    for section, what in (("groups", "group"), ("connections", "connection")):
        old, new = saved.get(section, {}), mine[section]
        if set(old) != set(new):
            gone = sorted(set(old) - set(new))
            added = sorted(set(new) - set(old))
            return (f"the saved state has {what}s {', '.join(sorted(old)) or 'none'}, this "
                    f"network {', '.join(sorted(new)) or 'none'}"
                    + (f" (not here: {', '.join(gone)})" if gone else "")
                    + (f" (not saved: {', '.join(added)})" if added else ""))
        for name in sorted(new):
            a, b = old[name], new[name]
            for key, label in (("size", "size"), ("model", "model"), ("pre", "source"),
                               ("post", "target"), ("synapses", "synapse count")):
                if key in b and a.get(key) != b[key]:
                    return (f"{what} '{name}': {label} is {a.get(key)} in the saved state, "
                            f"{b[key]} here")
            if "pairs" in b and a.get("pairs") != b["pairs"]:
                return (f"{what} '{name}': the same number of synapses "
                        f"({b['synapses']}) but other pairs (i, j) (another seed or "
                        "connectivity)")
            if "delays" in b and a.get("delays") != b["delays"]:
                return f"{what} '{name}': other synaptic delays"
            ca, cb = a.get("constants", {}), b["constants"]
            for k in sorted(set(ca) | set(cb)):
                if k not in ca or k not in cb or not close(ca[k], cb[k]):
                    return (f"{what} '{name}': parameter '{k}' is {ca.get(k, 'not set')} in "
                            f"the saved state, {cb.get(k, 'not set')} here (SI units)")
    return None
