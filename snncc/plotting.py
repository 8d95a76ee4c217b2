"""PNG plots of monitor data and weights: spike rasters, state traces, firing-rate
histograms, population rates, weight matrices and receptive-field tiles.

Matplotlib is optional (``pip install snncc[plot]``); it is imported only when a plot is
drawn, and only its object-oriented API with the Agg canvas is used, so the global
pyplot backend of an interactive session is left alone. The functions accept snncc
monitors and, as far as they share the attributes used (``i``, ``t``, ``values``),
Brian2's.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from snncc import analysis
from snncc.errors import ParameterError, ShapeError, SnnccError

__all__ = ["population_rate", "raster", "rate_histogram", "traces", "weight_images",
           "weight_matrix"]

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


def _duration_s(duration: Any, t: np.ndarray, what: str) -> float:
    """``duration`` in s as :mod:`snncc.analysis` reads it; default: the last spike."""
    if duration is None:
        return float(t.max()) if t.size else 1.0
    return analysis.duration_seconds(duration, f"{what}: duration")


def raster(spike_monitor: Any, path: str | Path, title: str = "Spike raster", *,
           duration: Any = None, bin_ms: float = 5.0, max_points: int = 200_000,
           rate_panel: bool = True) -> Path:
    """Write a spike raster (time vs neuron index) as a PNG, with the population rate
    below it.

    Args:
        spike_monitor: a SpikeMonitor after a run.
        path: output file (``.png`` is added if there is no suffix).
        title: figure title.
        duration: length of the time axis: a time such as ``500*ms`` (a bare number
            means ms, as everywhere in snncc) or the compiled network (up to its current
            time); default: the last spike.
        bin_ms: bin width of the population-rate panel, in ms.
        max_points: draw at most this many spikes (evenly thinned beyond it).
        rate_panel: draw the population rate below the raster.

    Returns:
        The path written.
    """
    _matplotlib()
    t, i = _spikes(spike_monitor)
    n = _n_neurons(spike_monitor, i)
    t_end = _duration_s(duration, t, "raster")
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


def rate_histogram(spike_monitor: Any, path: str | Path, duration: Any = None,
                   title: str = "Firing rates", bins: int = 40) -> Path:
    """Write a histogram of per-neuron firing rates (spike count / ``duration``) as a PNG.

    Args:
        spike_monitor: a SpikeMonitor after a run.
        path: output file.
        duration: simulated time: a time such as ``500*ms`` (a bare number means ms) or
            the compiled network (up to its current time); default: the last spike time.
        title: figure title.
        bins: number of histogram bins.

    Returns:
        The path written.
    """
    _matplotlib()
    t, i = _spikes(spike_monitor)
    n = _n_neurons(spike_monitor, i)
    dur = _duration_s(duration, t, "rate_histogram")
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


def population_rate(spikes: Any, path: str | Path, duration: Any = None, *,
                    bin: Any = 1.0, smooth: str | None = "gaussian", width: Any = 5.0,
                    n: int | None = None, t_start: Any = None, batch: int = 0,
                    title: str = "Population rate") -> Path:
    """Write the population rate (Hz) against time (ms) as a PNG: the binned rate in
    grey and, with ``smooth``, the smoothed rate in black.

    Args:
        spikes: a SpikeMonitor after a run, or ``(i, t)`` arrays with ``n=``
            (see :mod:`snncc.analysis`).
        path: output file.
        duration: analysed time: a time such as ``500*ms`` (a bare number means ms), or
            the compiled network, ``sim``, for the time it has run (not the bare float
            ``sim.t``, which is in s).
        bin: bin width (a time, a bare number means ms; default 1 ms).
        smooth: ``"gaussian"`` (``width`` = standard deviation; a time, a bare number
            means ms; default 5 ms), ``"box"`` or ``None`` (binned rate only).
        n, t_start, batch: as in :func:`snncc.analysis.population_rate`.
        title: figure title.

    Returns:
        The path written.
    """

    _matplotlib()
    kw = {"n": n, "t_start": t_start, "batch": batch, "bin": bin}
    t, rate = analysis.population_rate(spikes, duration, **kw)
    fig = _figure(8.0, 3.0)
    ax = fig.subplots(1, 1)
    width_ms = analysis._seconds(bin, "bin") * 1e3  # every bin is this wide
    ax.step(t * 1e3, rate, where="post", color="0.65" if smooth else "k", lw=0.7,
            label=f"{width_ms:g} ms bins")
    if smooth is not None:
        t_s, smoothed = analysis.population_rate(spikes, duration, smooth=smooth, width=width,
                                                 **kw)
        ax.plot(t_s * 1e3 + 0.5 * width_ms, smoothed, color="k", lw=1.2,
                label=f"{smooth}-smoothed")  # at the bin centres
        ax.legend(loc="upper right", fontsize="small")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("rate (Hz)")
    ax.set_xlim(t[0] * 1e3, t[-1] * 1e3 + width_ms)
    ax.set_ylim(bottom=0.0)
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def _array2d(weights: Any, what: str) -> np.ndarray:
    """A float64 matrix from an ndarray, a torch tensor or a nested list."""
    if hasattr(weights, "detach"):  # torch tensor
        weights = weights.detach().double().cpu().numpy()
    arr = _plain(weights)
    if arr.ndim != 2:
        raise ShapeError(f"{what} needs a 2-d [n_pre, n_post] weight matrix, got shape "
                         f"{arr.shape}")
    return arr


def weight_matrix(source: Any, connection: Any, path: str | Path, *, var: str = "w",
                  batch: int = 0, title: str | None = None, cmap: str = "viridis") -> Path:
    """Write a connection's weights as a PNG image: presynaptic neurons down, postsynaptic
    across; pairs without a synapse are left blank (white).

    Args:
        source: the compiled network (``net.compile()``), or a ``[n_pre, n_post]`` matrix
            (NaN: no synapse) with ``connection=None``.
        connection: the Connection or its name (see
            :func:`snncc.analysis.weight_matrix`).
        path: output file.
        var: the synaptic variable to show (default ``"w"``).
        batch: batch element.
        title: figure title (default: the connection and variable).
        cmap: matplotlib colormap name.

    Returns:
        The path written.
    """

    _matplotlib()
    label = var
    if connection is None:
        w = _array2d(source, "weight_matrix")
        name = "weights"
    else:
        w = analysis.weight_matrix(source, connection, var, batch=batch)
        name = connection if isinstance(connection, str) else connection.name
        dim = source.program.projections[name].variables.get(var)
        dim = None if dim is None else dim.dim
        if dim is not None and not getattr(dim, "is_dimensionless", True):
            scale, unit = _UNIT_SCALES.get(str(dim), (1.0, str(dim)))
            w, label = w * scale, f"{var} ({unit})"
    fig = _figure(6.5, 5.5)
    ax = fig.subplots(1, 1)
    import matplotlib

    colormap = matplotlib.colormaps[cmap].with_extremes(bad="white")
    finite = w[np.isfinite(w)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    img = ax.imshow(np.ma.masked_invalid(w), cmap=colormap, aspect="auto",
                    interpolation="nearest", vmin=lo, vmax=hi if hi > lo else lo + 1.0)
    fig.colorbar(img, ax=ax, label=label)
    ax.set_xlabel("postsynaptic neuron")
    ax.set_ylabel("presynaptic neuron")
    n_syn = int(np.isfinite(w).sum())
    ax.set_title(title or f"{name}.{var}: {n_syn} synapses, {w.shape[0]} x {w.shape[1]}")
    fig.tight_layout()
    return _save(fig, path)


def weight_images(weights: Any, shape: tuple[int, int], path: str | Path, *,
                  columns: int | None = None, title: str = "Receptive fields",
                  cmap: str = "hot_r", vmin: float | None = None, vmax: float | None = None
                  ) -> Path:
    """Write each postsynaptic neuron's incoming weights as an image, tiled in a grid (the
    receptive fields of Diehl & Cook's MNIST network: 784 inputs as 28 x 28 tiles).

    Args:
        weights: ``[n_pre, n_post]`` matrix (e.g. from
            :func:`snncc.analysis.weight_matrix`; NaN, a missing synapse, shows as 0), with
            ``n_pre == shape[0] * shape[1]``; an ndarray or a torch tensor.
        shape: ``(rows, columns)`` of one tile, in pixels; the presynaptic index runs
            row by row (C order), as MNIST pixels do.
        path: output file.
        columns: tiles per row (default: about the square root of ``n_post``).
        title: figure title.
        cmap: matplotlib colormap name; one colour scale is shared by all tiles.
        vmin, vmax: ends of the colour scale (default: ``min(0, smallest weight)`` and
            the largest weight).

    Returns:
        The path written.
    """
    _matplotlib()
    w = _array2d(weights, "weight_images")
    if len(shape) != 2 or int(shape[0]) * int(shape[1]) != w.shape[0] or min(shape) < 1:
        raise ShapeError(f"weight_images: shape={tuple(shape)} must be (rows, columns) with "
                         f"rows * columns == n_pre = {w.shape[0]}")
    h, wd = int(shape[0]), int(shape[1])
    n_post = w.shape[1]
    cols = int(columns) if columns else int(math.ceil(math.sqrt(n_post)))
    if cols < 1:
        raise ParameterError(f"weight_images: columns must be >= 1, got {columns}")
    rows = max(1, -(-n_post // cols))
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    finite = w[np.isfinite(w)]
    lo = vmin if vmin is not None else (min(0.0, float(finite.min())) if finite.size else 0.0)
    hi = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    if not hi > lo:
        hi = lo + 1.0
    colormap, norm = matplotlib.colormaps[cmap], Normalize(lo, hi)
    tiles = colormap(norm(np.nan_to_num(w, nan=0.0).T.reshape(n_post, h, wd)))
    # grey lines between the tiles, transparent (white) where the grid has no neuron
    mosaic = np.ones((rows * (h + 1) - 1, cols * (wd + 1) - 1, 4))
    mosaic[..., :3] = 0.5
    for k in range(n_post):
        r, c = divmod(k, cols)
        mosaic[r * (h + 1):r * (h + 1) + h, c * (wd + 1):c * (wd + 1) + wd] = tiles[k]
    for k in range(n_post, rows * cols):
        r, c = divmod(k, cols)
        mosaic[r * (h + 1) - (r > 0):r * (h + 1) + h, c * (wd + 1) - (c > 0):
               c * (wd + 1) + wd + 1, 3] = 0.0
    size = min(12.0, max(3.0, 0.6 * cols * max(1.0, wd / 14)))
    fig = _figure(size + 1.2, size * mosaic.shape[0] / mosaic.shape[1] + 0.8)
    ax = fig.subplots(1, 1)
    ax.imshow(mosaic, interpolation="nearest")
    fig.colorbar(ScalarMappable(norm, colormap), ax=ax, fraction=0.046, pad=0.02)
    ax.set_axis_off()
    ax.set_title(f"{title} ({n_post} neurons, {h} x {wd})")
    fig.tight_layout()
    return _save(fig, path)
