"""PNG plots of monitor data: spike rasters, state traces, firing-rate histograms.

Matplotlib is optional (``pip install snncc[plot]``); it is imported only when a plot is
drawn, and only its object-oriented API with the Agg canvas is used, so the global
pyplot backend of an interactive session is left alone. The functions accept snncc
monitors and, as far as they share the attributes used (``i``, ``t``, ``values``),
Brian2's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from snncc.errors import SnnccError

__all__ = ["raster", "rate_histogram", "traces"]

_UNIT_SCALES = {  # dimension text -> (scale, label) for axis labels
    "volt": (1e3, "mV"),
    "amp": (1e9, "nA"),
    "siemens": (1e9, "nS"),
    "hertz": (1.0, "Hz"),
}


def _figure(width: float = 8.0, height: float = 4.5) -> Any:
    """A new matplotlib Figure on an Agg canvas (raises a clear error without it)."""
    FigureCanvasAgg, Figure = _matplotlib()
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _matplotlib() -> tuple[Any, Any]:
    """(FigureCanvasAgg, Figure), or a SnnccError saying how to install matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise SnnccError("plotting needs matplotlib, which is not installed: "
                         "pip install snncc[plot]  (or: pip install matplotlib)") from e
    return FigureCanvasAgg, Figure


def _plain(x: Any) -> np.ndarray:
    """Values in SI units as a float ndarray, from snncc or Brian2 quantities."""
    value = getattr(x, "value", None)  # snncc Quantity
    if value is not None and hasattr(x, "dim"):
        return np.asarray(value, dtype=np.float64)
    return np.asarray(x, dtype=np.float64)  # Brian2 Quantity / ndarray: SI values


def _dim_text(x: Any) -> str | None:
    dim = getattr(x, "dim", None)
    return None if dim is None else str(dim)


def _save(fig: Any, path: str | Path) -> Path:
    out = Path(path)
    if out.suffix == "":
        out = out.with_suffix(".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def _spikes(spike_monitor: Any) -> tuple[np.ndarray, np.ndarray]:
    """(times in s, indices) of a spike monitor."""
    return _plain(spike_monitor.t), np.asarray(spike_monitor.i, dtype=np.int64)


def _n_neurons(spike_monitor: Any, i: np.ndarray) -> int:
    """Number of monitored neurons: the monitor's slice (snncc), its source's size
    (Brian2), or one more than the largest index."""
    if hasattr(spike_monitor, "stop") and hasattr(spike_monitor, "start"):
        return int(spike_monitor.stop - spike_monitor.start)
    try:
        return len(spike_monitor.source)
    except (AttributeError, TypeError):
        return int(i.max()) + 1 if i.size else 1


def raster(spike_monitor: Any, path: str | Path, title: str = "Spike raster", *,
           duration: float | None = None, bin_ms: float = 5.0, max_points: int = 200_000,
           rate_panel: bool = True) -> Path:
    """Write a spike raster (time vs neuron index) as a PNG, with the population rate
    below it.

    Args:
        spike_monitor: a SpikeMonitor after a run.
        path: output file (``.png`` is added if there is no suffix).
        title: figure title.
        duration: length of the time axis in seconds (default: the last spike).
        bin_ms: bin width of the population-rate panel, in ms.
        max_points: draw at most this many spikes (evenly thinned beyond it).
        rate_panel: draw the population rate below the raster.

    Returns:
        The path written.
    """
    _matplotlib()
    t, i = _spikes(spike_monitor)
    n = _n_neurons(spike_monitor, i)
    t_end = float(duration) if duration is not None else (float(t.max()) if t.size else 1.0)
    fig = _figure(8.0, 5.5 if rate_panel else 4.5)
    if rate_panel:
        ax, ax_rate = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    else:
        ax, ax_rate = fig.subplots(1, 1), None
    step = max(1, -(-t.size // max_points))
    ax.plot(t[::step] * 1e3, i[::step], ",k", rasterized=True)
    ax.set_ylabel("neuron index")
    ax.set_ylim(-0.5, n - 0.5)
    ax.set_title(title + (f" (every {step}th spike)" if step > 1 else ""))
    if ax_rate is not None:
        width = bin_ms * 1e-3
        edges = np.arange(0.0, t_end + width, width)
        counts, edges = np.histogram(t, bins=edges if edges.size > 1 else 1)
        rate = counts / (n * np.diff(edges))
        ax_rate.step(edges[:-1] * 1e3, rate, where="post", color="k", lw=0.8)
        ax_rate.set_ylabel("rate (Hz)")
        ax_rate.set_xlabel("time (ms)")
    else:
        ax.set_xlabel("time (ms)")
    ax.set_xlim(0.0, t_end * 1e3)
    fig.tight_layout()
    return _save(fig, path)


def traces(state_monitor: Any, var: str, path: str | Path, title: str | None = None
           ) -> Path:
    """Write the recorded traces of ``var`` (one line per recorded neuron) as a PNG.

    Volts are shown in mV, amps in nA, siemens in nS; other values in SI units.
    Returns the path written.
    """
    _matplotlib()
    values = getattr(state_monitor, var)
    dim = _dim_text(values)
    arr = _plain(values)
    if arr.ndim == 3:  # [batch, n_record, n_steps]: first batch element
        arr = arr[0]
    arr = np.atleast_2d(arr)
    scale, unit = _UNIT_SCALES.get(dim or "", (1.0, dim or ""))
    t_ms = _plain(state_monitor.t) * 1e3
    fig = _figure(8.0, 3.5)
    ax = fig.subplots(1, 1)
    record = getattr(state_monitor, "record", None)
    labels = (list(np.atleast_1d(record)) if record is not None
              and np.size(record) == arr.shape[0] else list(range(arr.shape[0])))
    for row, label in zip(arr, labels):
        ax.plot(t_ms, row * scale, lw=0.8, label=f"neuron {label}")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"{var} ({unit})" if unit else var)
    ax.set_title(title or f"{var} traces")
    if arr.shape[0] <= 10:
        ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def rate_histogram(spike_monitor: Any, path: str | Path, duration: float | None = None,
                   title: str = "Firing rates", bins: int = 40) -> Path:
    """Write a histogram of per-neuron firing rates (spike count / ``duration``) as a PNG.

    Args:
        spike_monitor: a SpikeMonitor after a run.
        path: output file.
        duration: simulated time in seconds (default: the last spike time).
        title: figure title.
        bins: number of histogram bins.

    Returns:
        The path written.
    """
    _matplotlib()
    t, i = _spikes(spike_monitor)
    n = _n_neurons(spike_monitor, i)
    dur = float(duration) if duration is not None else (float(t.max()) if t.size else 1.0)
    if dur <= 0:
        raise SnnccError(f"rate_histogram: duration must be > 0 s, got {dur}")
    rates = np.bincount(i, minlength=n)[:n] / dur
    fig = _figure(6.0, 4.0)
    ax = fig.subplots(1, 1)
    ax.hist(rates, bins=bins, color="0.3")
    ax.axvline(rates.mean(), color="C3", lw=1, label=f"mean {rates.mean():.2f} Hz")
    ax.set_xlabel("firing rate (Hz)")
    ax.set_ylabel("neurons")
    ax.set_title(title)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)
