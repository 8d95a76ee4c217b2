"""Streaming monitor data to HDF5 and TensorBoard while a network runs in chunks.

>>> from snncc.io.log import RunLogger, run_chunked          # doctest: +SKIP
>>> with RunLogger(sim, net, hdf5="run/data.h5", tensorboard="run/tb") as log:
...     run_chunked(sim, 1.0, chunk=0.1, logger=log)           # 1 s in 100 ms chunks

After each chunk (``sim.run(chunk)``, which continues from the current state) the data
recorded since the previous chunk is appended:

HDF5 (``h5py``), one group per monitor under ``/monitors`` (attributes ``kind``,
``source``, ``n_neurons``, ``dt`` in seconds), resizable datasets, time first:

- spike: ``i`` (index in the monitored group, int64), ``t`` (s), ``step``, ``batch``;
- state: ``t`` (s), ``step``, one dataset per variable ``[n_steps, batch, n_record]``
  (attribute ``unit``, e.g. ``volt``; ``1`` when dimensionless), ``record`` (indices);
- rate: ``t`` (s), ``step``, ``rate`` ``[n_steps, batch]`` (Hz), ``count``.

Connections whose ``w`` is plastic (written by ``on_pre``/``on_post`` or by an
equation) get ``/connections/<name>`` with ``i``, ``j``, and a snapshot of ``w``
``[n_chunks, batch, n_synapses]`` after each chunk, with ``t`` and ``step``.

TensorBoard (``torch.utils.tensorboard``), at the global step number at the end of each
chunk: scalars ``rate/<monitor>`` (mean population rate over the chunk, Hz; spike and
rate monitors), ``state/<monitor>/<var>`` (mean of the chunk's values, SI units);
histograms ``rates/<spike monitor>`` (per-neuron rate over the chunk, Hz) and
``weights/<connection>`` (plastic ``w``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from snncc.errors import NetworkError, ParameterError, SnnccError
from snncc.units import Quantity, second, time_to_seconds

__all__ = ["ProgressBar", "RunLogger", "plastic_connections", "run_chunked"]


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as e:
        raise SnnccError("HDF5 logging needs h5py, which is not installed: "
                         "pip install snncc[io]  (or: pip install h5py)") from e
    return h5py


def _summary_writer() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise SnnccError("TensorBoard logging needs the tensorboard package, which is not "
                         "installed: pip install snncc[io]  (or: pip install tensorboard)"
                         ) from e
    return SummaryWriter


def plastic_connections(sim: Any) -> list[str]:
    """Names of the projections of ``sim`` whose ``w`` changes during a run."""
    out = []
    for name, pr in sim.program.projections.items():
        if "w" not in pr.variables:
            continue
        targets = {st.target for st in [*pr.on_pre, *pr.on_post]}
        targets |= {ode.name for ode in [*getattr(pr, "odes", []),
                                         *getattr(pr, "clock_odes", [])]}
        if "w" in targets:
            out.append(name)
    return out


def _source_text(m: Any) -> str:
    g = m.group
    name = getattr(g, "path", g.name)
    return name if (m.start, m.stop) == (0, g.size) else f"{name}[{m.start}:{m.stop}]"


def _unit_text(dim: Any) -> str:
    return "1" if dim is None or dim.is_dimensionless else str(dim)


class _Monitor:
    """Cursor and HDF5 datasets of one monitor (``name``: its path in the network, e.g.
    ``layer1.spikes``; ``key``: its name in the compiled program, ``layer1_spikes``)."""

    def __init__(self, name: str, key: str, mon: Any, kind: str) -> None:
        self.name = name
        self.key = key
        self.mon = mon
        self.kind = kind
        self.seen = 0  # rows of the runtime's data already handled
        self.ds: dict[str, Any] = {}


class RunLogger:
    """Appends the monitor data a :class:`~snncc.runtime.CompiledNetwork` recorded since
    the previous :meth:`log` to an HDF5 file and/or TensorBoard.

    Args:
        sim: the compiled network.
        net: the :class:`~snncc.Network` it was compiled from (its monitors say which
            slice of a group they watch); default: the monitors bound to ``sim``.
        hdf5: path of the HDF5 file to create (``None``: no HDF5).
        tensorboard: log folder for TensorBoard (``None``: no TensorBoard).
        weights: snapshot plastic weights after each chunk.
        attrs: extra attributes of the HDF5 root (strings or numbers), e.g. the config.
    """

    def __init__(self, sim: Any, net: Any = None, *, hdf5: str | Path | None = None,
                 tensorboard: str | Path | None = None, weights: bool = True,
                 attrs: Mapping[str, Any] | None = None) -> None:
        from snncc.frontend.monitors import PopulationRateMonitor, SpikeMonitor, StateMonitor

        self.sim = sim
        self.dt = float(sim.dt)
        objs = (net.objects if net is not None
                else list(getattr(sim, "_monitors", {}).values()))
        self._mons: list[_Monitor] = []
        for o in objs:
            kind = ("spike" if isinstance(o, SpikeMonitor) else "state"
                    if isinstance(o, StateMonitor) else "rate"
                    if isinstance(o, PopulationRateMonitor) else None)
            path = str(getattr(o, "path", o.name))
            key = path.replace(".", "_")  # nested monitors are built under their path
            if kind is not None and key in sim.program.monitors:
                self._mons.append(_Monitor(path, key, o, kind))
        self._weights = plastic_connections(sim) if weights else []
        self._last_step = self._step()
        self.h5: Any = None
        self.writer: Any = None
        self.chunks = 0
        try:
            if hdf5 is not None:
                self._open_hdf5(Path(hdf5), attrs or {})
            if tensorboard is not None:
                self.writer = _summary_writer()(log_dir=str(tensorboard))
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------- setup
    def _step(self) -> int:
        return int(round(self.sim.t / self.sim.dt))

    def _open_hdf5(self, path: Path, attrs: Mapping[str, Any]) -> None:
        h5py = _h5py()
        path.parent.mkdir(parents=True, exist_ok=True)
        f = self.h5 = h5py.File(path, "w")
        from snncc import __version__

        f.attrs.update({"snncc_version": __version__, "dt": self.dt, "dt_unit": "second",
                        "backend": str(self.sim.backend_name), "device": str(self.sim.device),
                        "dtype": str(self.sim.dtype), "batch": int(self.sim.program.batch),
                        "seed": -1 if self.sim.program.seed is None
                        else int(self.sim.program.seed)})
        for k, v in attrs.items():
            f.attrs[k] = v
        B = int(self.sim.program.batch)
        for m in self._mons:
            g = f.create_group(f"monitors/{m.name}")
            g.attrs.update({"kind": m.kind, "source": _source_text(m.mon),
                            "n_neurons": int(m.mon.stop - m.mon.start), "dt": self.dt})
            m.ds["step"] = self._dataset(g, "step", (), np.int64)
            m.ds["t"] = self._dataset(g, "t", (), np.float64, unit="second")
            if m.kind == "spike":
                m.ds["i"] = self._dataset(g, "i", (), np.int64)
                m.ds["batch"] = self._dataset(g, "batch", (), np.int64)
            elif m.kind == "rate":
                m.ds["rate"] = self._dataset(g, "rate", (B,), np.float64, unit="hertz")
                m.ds["count"] = self._dataset(g, "count", (B,), np.int64)
            else:
                g.create_dataset("record", data=np.asarray(m.mon.record, dtype=np.int64))
                d = self.sim.monitor_data(m.key)
                for v in m.mon.variables:
                    m.ds[v] = self._dataset(g, v, (B, len(m.mon.record)), np.float64,
                                            unit=_unit_text(d.dims.get(v)))
                    m.ds[v].attrs["axes"] = "time, batch, record"
        for name in self._weights:
            pr = self.sim.program.projections[name]
            g = f.create_group(f"connections/{name}")
            g.create_dataset("i", data=np.asarray(pr.i, dtype=np.int64))
            g.create_dataset("j", data=np.asarray(pr.j, dtype=np.int64))
            g.attrs.update({"pre": pr.pre, "post": pr.post})
            dim = pr.variables["w"].dim
            self._dataset(g, "step", (), np.int64)
            self._dataset(g, "t", (), np.float64, unit="second")
            w = self._dataset(g, "w", (B, pr.n_synapses), np.float64, unit=_unit_text(dim))
            w.attrs["axes"] = "chunk, batch, synapse"

    @staticmethod
    def _dataset(g: Any, name: str, tail: tuple[int, ...], dtype: Any,
                 unit: str | None = None) -> Any:
        rows = max(1, min(65536, (1 << 20) // max(1, int(np.prod(tail)) if tail else 1)))
        ds = g.create_dataset(name, shape=(0, *tail), maxshape=(None, *tail), dtype=dtype,
                              chunks=(rows, *tail))
        if unit is not None:
            ds.attrs["unit"] = unit
        return ds

    # ----------------------------------------------------------------- logging
    def log(self) -> None:
        """Append what was recorded since the last call (call after each ``sim.run``)."""
        step = self._step()
        if step < self._last_step:
            raise self._went_back()
        n_steps = step - self._last_step
        for m in self._mons:
            self._log_monitor(m, step, n_steps)
        if self._weights:
            self._log_weights(step)
        if self.h5 is not None:
            self.h5.attrs["steps"] = step
            self.h5.attrs["t_end"] = step * self.dt
            self.h5.flush()
        if self.writer is not None:
            self.writer.flush()
        self._last_step = step
        self.chunks += 1

    def _went_back(self) -> ParameterError:
        return ParameterError("RunLogger: the network was set back to an earlier state "
                              "(load_state_dict) after data were logged; the log only "
                              "grows: start a new RunLogger (new file) after restoring")

    @staticmethod
    def _append(ds: Any, data: np.ndarray) -> None:
        n = ds.shape[0]
        if data.shape[0]:
            ds.resize(n + data.shape[0], axis=0)
            ds[n:] = data

    def _log_monitor(self, m: _Monitor, step: int, n_steps: int) -> None:
        d = self.sim.monitor_data(m.key)
        total = int(d.steps.shape[0])
        if total < m.seen:
            raise self._went_back()
        sl = slice(m.seen, total)
        m.seen = total
        steps = d.steps[sl]
        t = steps.astype(np.float64) * d.dt
        mon = m.mon
        n_neurons = mon.stop - mon.start
        B = int(self.sim.program.batch)
        if m.kind == "spike":
            idx = d.indices[sl]
            keep = (idx >= mon.start) & (idx < mon.stop)
            i, b = idx[keep] - mon.start, d.batch[sl][keep]
            if m.ds:
                for k, arr in (("step", steps[keep]), ("t", t[keep]), ("i", i), ("batch", b)):
                    self._append(m.ds[k], arr)
            if self.writer is not None and n_steps > 0:
                secs = n_steps * self.dt
                self.writer.add_scalar(f"rate/{m.name}", i.size / (n_neurons * B * secs), step)
                rates = np.bincount(i, minlength=n_neurons) / (B * secs)
                self.writer.add_histogram(f"rates/{m.name}", rates, step)
        elif m.kind == "rate":
            counts = d.counts[sl]
            rate = counts.astype(np.float64) / (n_neurons * d.dt)
            if m.ds:
                for k, arr in (("step", steps), ("t", t), ("rate", rate), ("count", counts)):
                    self._append(m.ds[k], arr)
            if self.writer is not None and rate.size:
                self.writer.add_scalar(f"rate/{m.name}", float(rate.mean()), step)
        else:
            if m.ds:
                self._append(m.ds["step"], steps)
                self._append(m.ds["t"], t)
            for v in mon.variables:
                vals = d.values[v][sl]
                if m.ds:
                    self._append(m.ds[v], vals)
                if self.writer is not None and vals.size:
                    self.writer.add_scalar(f"state/{m.name}/{v}", float(vals.mean()), step)

    def _log_weights(self, step: int) -> None:
        for name in self._weights:
            try:
                w = self.sim.get(name, "w").detach().to("cpu").double().numpy()
            except NetworkError:  # pragma: no cover - plastic w is always state
                continue
            if self.h5 is not None:
                g = self.h5[f"connections/{name}"]
                self._append(g["step"], np.asarray([step], dtype=np.int64))
                self._append(g["t"], np.asarray([step * self.dt]))
                self._append(g["w"], w[None])
            if self.writer is not None and w.size:
                self.writer.add_histogram(f"weights/{name}", w.reshape(-1), step)

    # ----------------------------------------------------------------- closing
    def close(self) -> None:
        """Flush and close the HDF5 file and the TensorBoard writer."""
        if self.h5 is not None:
            self.h5.close()
            self.h5 = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProgressBar:
    """A one-line progress bar on ``stream`` (stderr): ``[#####-----] 50% 0.5/1 s``.

    Call it with ``(done_steps, total_steps)``; :meth:`close` ends the line. On a stream
    that is not a terminal only the finished bar is written (no carriage returns in logs).
    """

    def __init__(self, dt: float, label: str = "", stream: TextIO | None = None,
                 width: int = 30) -> None:
        self.dt = dt
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.t0 = time.perf_counter()
        self._open = False

    def __call__(self, done: int, total: int) -> None:
        isatty = getattr(self.stream, "isatty", None)
        if done < total and not (isatty is not None and isatty()):
            return
        frac = done / total if total else 1.0
        fill = int(round(frac * self.width))
        elapsed = time.perf_counter() - self.t0
        eta = elapsed * (1 - frac) / frac if frac > 0 else 0.0
        head = f"{self.label} " if self.label else ""
        self.stream.write(f"\r{head}[{'#' * fill}{'-' * (self.width - fill)}] "
                          f"{100 * frac:5.1f}% {done * self.dt:.3g}/{total * self.dt:.3g} s "
                          f"simulated, {elapsed:.1f} s elapsed, eta {eta:.1f} s ")
        self.stream.flush()
        self._open = True

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


def run_chunked(sim: Any, duration: float | Quantity, chunk: float | Quantity | None = None,
                *, logger: RunLogger | None = None,
                progress: Callable[[int, int], None] | None = None) -> int:
    """Run ``sim`` for ``duration`` in chunks of ``chunk`` (times: Quantities, or bare
    numbers in **seconds** here), calling ``logger.log()`` and ``progress(done, total)``
    (in steps) after each chunk. Returns the number of chunks."""
    secs = _seconds(duration, "duration")
    total = int(round(secs / sim.dt))
    if total <= 0:
        raise ParameterError(f"run duration must be at least one time step "
                             f"({sim.dt * 1e3:g} ms), got {secs:g} s")
    per = total if chunk is None else max(1, int(round(_seconds(chunk, "chunk") / sim.dt)))
    done = n = 0
    if progress is not None:
        progress(0, total)
    while done < total:
        k = min(per, total - done)
        sim.run(Quantity(k * sim.dt, second.dim))
        done += k
        n += 1
        if logger is not None:
            logger.log()
        if progress is not None:
            progress(done, total)
    return n


def _seconds(x: float | Quantity, what: str) -> float:
    if isinstance(x, Quantity):
        return time_to_seconds(x, what)
    v = float(x)
    if not np.isfinite(v) or v <= 0:
        raise ParameterError(f"{what} must be a positive time, got {x!r}")
    return v
