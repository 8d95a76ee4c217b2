"""Spike-train statistics and connection weights, as plain numbers and NumPy arrays.

Every statistic takes its spikes as

* a :class:`~snncc.SpikeMonitor` after a run (Brian2's ``SpikeMonitor`` works too);
  ``batch=`` picks the batch element of a network compiled with ``batch > 1``;
* a tuple ``(i, t)`` or ``(i, t, b)`` of plain arrays: neuron indices, spike times and,
  optionally, batch elements; then ``n=`` (the number of neurons) is required, because
  silent neurons count. The times are data, like a monitor's ``t``: a time Quantity, or
  plain numbers **in seconds**;
* a :class:`SpikeTrains` from :func:`spike_trains`, which does that selection once.

Units: every time argument (``duration``, ``t_start``, ``bin``, ``window``, ``width``) is
a time Quantity such as ``5*ms`` (snncc's or Brian2's) or a bare number **in
milliseconds**, as everywhere in snncc (``Network(dt=0.1)``, ``sim.run(500)``).
``duration`` may also be the compiled network itself: ``duration=sim`` analyses up to the
time it has run, ``sim.t`` (the window is ``[t_start, sim.t)``). ``sim.t`` is a float in
seconds, so pass ``sim`` or ``sim.t*second``, not a bare ``sim.t`` (it would be read as
ms). Results are in SI units: times in s, rates in Hz; counts, CVs, Fano factors, χ and
correlation coefficients are dimensionless. The statistics use the spikes in the window
``[t_start, t_start + duration)``; a spike monitor does not know how long the network
ran, so rates and binned statistics need ``duration``. Times within 1 ns of a
window or bin edge count as on the edge (spike times are multiples of ``dt`` up to
rounding). Bins are ``bin`` wide and start at ``t_start``; a last bin that does not fit
into the window is dropped.

References: the ISI coefficient of variation and the Fano factor as in Softky & Koch,
J. Neurosci. 13:334 (1993) and Nawrot et al., J. Neurosci. Methods 169:374 (2008); the
synchrony measure χ of Golomb, Scholarpedia 2(1):1347 (2007) and Golomb & Rinzel,
Physica D 72:259 (1994); population rates as Brian2's ``PopulationRateMonitor``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from snncc.errors import NetworkError, ParameterError, ShapeError, UnitError
from snncc.units import Quantity, ms, second, time_to_seconds

__all__ = [
    "SpikeTrains", "cv_isi", "duration_seconds", "fano_factor", "firing_rates", "isi",
    "mean_cv", "mean_rate", "pairwise_correlation", "population_rate", "spike_trains",
    "synchrony", "weight_matrix",
]

_TOL = 1e-9  # s: spike times this close to a window or bin edge count as on the edge
_CHUNK = 1 << 22  # at most this many dense bins (neurons x bins) at a time


@dataclass(frozen=True)
class SpikeTrains:
    """The spikes of ``n`` neurons in the window ``[t_start, t_stop)``.

    Attributes:
        i: neuron index of each spike (int64, ``0 <= i < n``).
        t: spike times in s (float64), sorted by neuron, then time.
        n: number of neurons (silent ones included).
        t_start: start of the window, s.
        t_stop: end of the window, s (``inf`` when no duration was given).
    """

    i: np.ndarray
    t: np.ndarray
    n: int
    t_start: float
    t_stop: float

    @property
    def duration(self) -> float:
        """Length of the window in s (``inf`` when no duration was given)."""
        return self.t_stop - self.t_start

    @property
    def count(self) -> np.ndarray:
        """Spikes per neuron in the window, ``[n]``."""
        return np.bincount(self.i, minlength=self.n)


# ------------------------------------------------------------------ inputs
_A_TIME = "a time such as 5*ms; a bare number means ms"


def _seconds(x: Any, what: str) -> float:
    """A time argument in s: a time Quantity (snncc or Brian2) or a bare number in ms, read
    by :func:`snncc.units.time_to_seconds` as everywhere in snncc."""
    dim = None if isinstance(x, Quantity) else getattr(x, "dim", None)
    if dim is not None:  # a Brian2 quantity (an ndarray subclass holding SI values)
        if getattr(dim, "is_dimensionless", False):
            x = np.asarray(x, dtype=np.float64)
        elif str(dim) in ("second", "s"):
            x = Quantity(np.asarray(x, dtype=np.float64), second.dim)
        else:
            raise UnitError(f"{what} must be a single finite time: {_A_TIME}; got a "
                            f"quantity of dimension {dim}")
    try:
        return time_to_seconds(x, what)
    except (UnitError, ParameterError) as exc:
        if isinstance(x, Quantity) and x.dim != second.dim:
            got = f"a quantity of dimension {x.dim}"
        elif isinstance(x, (Quantity, np.ndarray)) and np.ndim(x) != 0:
            got = f"an array of shape {np.shape(x)}"
        else:
            got = str(x) if isinstance(x, Quantity) else repr(x)
        raise type(exc)(f"{what} must be a single finite time: {_A_TIME}; got {got}"
                        ) from None


def _run_end(x: Any) -> float | None:
    """The current time in s of a compiled network passed as ``duration=`` (anything with
    ``.t`` and ``.dt``, as :class:`~snncc.runtime.network.CompiledNetwork`, whose ``t`` is
    a float in s), or None for any other value."""
    if isinstance(x, Quantity) or not (hasattr(x, "t") and hasattr(x, "dt")):
        return None
    t = x.t
    if getattr(t, "dim", None) is not None:  # a time Quantity
        return _seconds(t, "duration (the network's t)")
    try:
        v = float(t)
    except (TypeError, ValueError):
        raise ParameterError(f"duration: the network's t must be a time in s, got {t!r}"
                             ) from None
    if not math.isfinite(v):
        raise ParameterError(f"duration: the network's t must be finite, got {v}")
    return v


def duration_seconds(duration: Any, what: str) -> float:
    """A ``duration=`` argument in s (> 0): a time, a bare number in ms, or a compiled
    network (the time it has run)."""
    end = _run_end(duration)
    return _positive(duration if end is None else end * second, what)


def _positive(x: Any, what: str) -> float:
    v = _seconds(x, what)
    if not v > 0:
        raise ParameterError(f"{what} must be > 0 s, got {v} s")
    return v


def _times_array(t: Any) -> np.ndarray:
    dim = getattr(t, "dim", None)
    if dim is not None:
        if str(dim) not in ("second", "s"):
            raise UnitError(f"spike times must be times (s), got a quantity of dimension "
                            f"{dim}")
        t = getattr(t, "value", t)
    return np.asarray(t, dtype=np.float64).reshape(-1)


def _monitor_size(mon: Any) -> int | None:
    if hasattr(mon, "start") and hasattr(mon, "stop"):  # snncc (slice of a group)
        return int(mon.stop - mon.start)
    try:
        return len(mon.source)  # Brian2
    except (AttributeError, TypeError):
        return None


def spike_trains(spikes: Any, duration: Any = None, *, n: int | None = None,
                 t_start: Any = None, batch: int = 0) -> SpikeTrains:
    """The spikes of one batch element in the window ``[t_start, t_start + duration)``.

    Args:
        spikes: a SpikeMonitor after a run, a tuple ``(i, t)`` / ``(i, t, b)`` (plain
            times are in s), or a :class:`SpikeTrains` (then the window may only shrink).
        duration: length of the window: a time such as ``500*ms`` (a bare number means
            ms); the compiled network ``sim``: up to the time it has run, so the window is
            ``[t_start, sim.t)``; ``None``: no end, all later spikes (enough for ISI
            statistics, not for rates).
        n: number of neurons; required for plain arrays, checked for monitors.
        t_start: start of the window (a time, a bare number means ms; default 0).
        batch: batch element to analyse (a monitor's ``b``).

    Returns:
        A :class:`SpikeTrains` with times in s.
    """
    if isinstance(batch, (bool, np.bool_)) or not isinstance(batch, (int, np.integer)) \
            or batch < 0:
        raise ParameterError(f"batch must be a non-negative integer, got {batch!r}")
    t0 = None if t_start is None else _seconds(t_start, "t_start")
    end = _run_end(duration)  # duration=sim: up to the time the network has run
    dur = None if duration is None or end is not None else _seconds(duration, "duration")
    if dur is not None and dur < 0:
        raise ParameterError(f"duration must be >= 0 s, got {dur} s")
    if isinstance(spikes, SpikeTrains):
        if n is not None and int(n) != spikes.n:
            raise ShapeError(f"n={n} does not match the {spikes.n} neurons of the spike trains")
        if batch != 0:
            raise ParameterError("batch= selects a batch element of a monitor; these spike "
                                 "trains are already one batch element")
        i, t, size = spikes.i, spikes.t, spikes.n
        lo, hi = spikes.t_start, spikes.t_stop
        start = lo if t0 is None else t0
        stop = end if end is not None else (hi if dur is None else start + dur)
        if start < lo - _TOL or stop > hi + _TOL or start > stop + _TOL:
            raise ParameterError(f"window [{start}, {stop}) s lies outside the spike trains' "
                                 f"window [{lo}, {hi}) s")
    else:
        i, t, b, size = _raw(spikes, n)
        if b is None:
            if batch != 0:
                raise ParameterError(f"batch={batch}, but these spikes carry no batch "
                                     "index (b); only batch=0 exists")
        else:
            keep = b == batch
            i, t = i[keep], t[keep]
        start = 0.0 if t0 is None else t0
        stop = end if end is not None else (math.inf if dur is None else start + dur)
    if end is not None and stop < start - _TOL:
        raise ParameterError(f"duration=sim ends the window at the network's time "
                             f"t={stop} s, before t_start={start} s")
    keep = (t >= start - _TOL) & (t < stop - _TOL)
    i, t = i[keep], t[keep]
    order = np.lexsort((t, i))
    return SpikeTrains(i[order], t[order], size, start, stop)


def _raw(spikes: Any, n: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """(indices, times in s, batch or None, number of neurons) of a monitor or tuple."""
    if isinstance(spikes, (tuple, list)):
        if len(spikes) not in (2, 3):
            raise ParameterError(f"spikes as plain arrays are a tuple (i, t) or (i, t, b), "
                                 f"got {len(spikes)} items")
        if n is None:
            raise ParameterError("n (the number of neurons) is required with plain arrays "
                                 "(i, t): silent neurons count in rates and means")
        i_raw, t = spikes[0], _times_array(spikes[1])
        b = np.asarray(spikes[2]).reshape(-1) if len(spikes) == 3 else None
        size = n
    elif hasattr(spikes, "i") and hasattr(spikes, "t"):
        i_raw, t = spikes.i, _times_array(spikes.t)  # NetworkError before a compile
        b = np.asarray(spikes.b).reshape(-1) if hasattr(spikes, "b") else None
        size = _monitor_size(spikes)
        if size is None:
            size = n
        if size is None:
            raise ParameterError("n (the number of neurons) is needed: the monitor does not "
                                 "say how many neurons it records")
        if n is not None and int(n) != size:
            raise ShapeError(f"n={n} does not match the {size} neurons the monitor records")
    else:
        raise ParameterError(f"spikes must be a SpikeMonitor, a tuple (i, t) or SpikeTrains, "
                             f"got {type(spikes).__name__}")
    i = np.asarray(i_raw).reshape(-1)
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)) \
            or size < 1:
        raise ParameterError(f"n must be a positive integer, got {size!r}")
    if i.size and not np.issubdtype(i.dtype, np.integer):
        if not np.all(np.mod(i, 1) == 0):
            raise ParameterError("spike indices i must be integers")
    i = i.astype(np.int64)
    if i.shape != t.shape or (b is not None and b.shape != i.shape):
        raise ShapeError(f"spike indices, times and batch elements must have one entry per "
                         f"spike; got {i.size} indices, {t.size} times"
                         + ("" if b is None else f", {b.size} batch elements"))
    if i.size and (i.min() < 0 or i.max() >= size):
        raise ParameterError(f"spike indices must lie in [0, n={size}), got "
                             f"{i.min()}..{i.max()}")
    if not np.all(np.isfinite(t)):
        raise ParameterError("spike times must be finite")
    return i, t, b, int(size)


def _trains(spikes: Any, duration: Any, n: int | None, t_start: Any, batch: int,
            need_duration: bool, what: str) -> SpikeTrains:
    st = spike_trains(spikes, duration, n=n, t_start=t_start, batch=batch)
    if need_duration:
        if math.isinf(st.t_stop):
            raise ParameterError(f"{what} needs duration= (how long the network ran, e.g. "
                                 "duration=sim, the compiled network, or 500*ms; a bare "
                                 "number means ms): a spike monitor does not know it")
        if not st.duration > 0:
            raise ParameterError(f"{what}: duration must be > 0 s, got {st.duration} s")
    return st


def _bins(st: SpikeTrains, bin: Any, what: str, name: str = "bin") -> tuple[float, int]:
    width = _positive(bin, name)
    n_bins = int(math.floor(st.duration / width + 1e-9))
    if n_bins < 1:
        raise ParameterError(f"{what}: {name}={width} s is longer than the window "
                             f"({st.duration} s)")
    return width, n_bins


def _bin_index(st: SpikeTrains, width: float, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(neuron, bin) of the spikes that fall into the ``n_bins`` full bins."""
    k = np.floor((st.t - st.t_start + _TOL) / width).astype(np.int64)
    keep = (k >= 0) & (k < n_bins)
    return st.i[keep], k[keep]


def _dense(i: np.ndarray, k: np.ndarray, rows: np.ndarray, n: int, n_bins: int
           ) -> np.ndarray:
    """Counts ``[len(rows), n_bins]`` of the neurons ``rows`` (float64)."""
    pos = np.full(n, -1, np.int64)
    pos[rows] = np.arange(rows.size)
    p = pos[i]
    keep = p >= 0
    flat = np.bincount(p[keep] * n_bins + k[keep], minlength=rows.size * n_bins)
    return flat.reshape(rows.size, n_bins).astype(np.float64)


def _sums(i: np.ndarray, k: np.ndarray, n: int, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Per neuron: sum and sum of squares (int64) of its counts over the bins, from the
    occupied (neuron, bin) pairs only."""
    keys, per_bin = np.unique(i * n_bins + k, return_counts=True)
    owner = keys // n_bins
    return (np.bincount(owner, weights=per_bin, minlength=n).astype(np.int64),
            np.bincount(owner, weights=per_bin.astype(np.float64) ** 2,
                        minlength=n).astype(np.int64))


# ------------------------------------------------------------------ smoothing
def _kernel(smooth: str, width: Any, bin_width: float) -> np.ndarray:
    if smooth not in ("gaussian", "box"):
        raise ParameterError(f"smooth must be None, 'gaussian' or 'box', got {smooth!r}")
    if width is None:
        raise ParameterError(f"smooth={smooth!r} needs width= ({_A_TIME})")
    w = _positive(width, "width")
    if smooth == "gaussian":  # width = standard deviation, truncated at 4 sigma
        half = int(math.ceil(4 * w / bin_width))
        x = np.arange(-half, half + 1) * bin_width
        kern = np.exp(-0.5 * (x / w) ** 2)
    else:  # Brian2's flat window: an odd number of bins, centred
        kern = np.ones(int(w / 2 / bin_width + 1e-9) * 2 + 1)
    return kern / kern.sum()


def _smooth(x: np.ndarray, kern: np.ndarray) -> np.ndarray:
    """Rows of ``x`` (counts, >= 0) convolved with the centred kernel ``kern`` (same
    length), divided by the part of the kernel inside the data so that edges are not
    pulled down; FFT rounding below 0 is clipped."""
    if kern.size == 1:
        return x
    n, m = x.shape[-1], kern.size
    size = 1 << int(math.ceil(math.log2(n + m - 1)))
    fk = np.fft.rfft(kern, size)
    conv = np.fft.irfft(np.fft.rfft(x, size, axis=-1) * fk, size, axis=-1)
    norm = np.fft.irfft(np.fft.rfft(np.ones(n), size) * fk, size)
    lo = (m - 1) // 2
    return np.maximum(conv[..., lo:lo + n] / norm[lo:lo + n], 0.0)


# ------------------------------------------------------------------ statistics
def firing_rates(spikes: Any, duration: Any = None, *, n: int | None = None,
                 t_start: Any = None, batch: int = 0) -> np.ndarray:
    """Firing rate of each neuron: spike count in the window / ``duration``.

    ``duration`` and ``t_start`` are as in :func:`spike_trains`: times (a bare number
    means ms), and ``duration=sim`` counts up to the time the compiled network has run;
    so do the other statistics.

    Returns:
        ``[n]`` rates in Hz.
    """
    st = _trains(spikes, duration, n, t_start, batch, True, "firing_rates")
    return st.count / st.duration


def mean_rate(spikes: Any, duration: Any = None, *, n: int | None = None,
              t_start: Any = None, batch: int = 0) -> float:
    """Mean firing rate over all ``n`` neurons (silent ones included), in Hz."""
    return float(firing_rates(spikes, duration, n=n, t_start=t_start, batch=batch).mean())


def isi(spikes: Any, duration: Any = None, *, n: int | None = None, t_start: Any = None,
        batch: int = 0) -> list[np.ndarray]:
    """Inter-spike intervals of each neuron within the window.

    Returns:
        A list of ``n`` arrays of intervals in s (empty for neurons with < 2 spikes).
    """
    st = _trains(spikes, duration, n, t_start, batch, False, "isi")
    bounds = np.searchsorted(st.i, np.arange(st.n + 1))
    return [np.diff(st.t[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def cv_isi(spikes: Any, duration: Any = None, *, n: int | None = None, t_start: Any = None,
           batch: int = 0) -> np.ndarray:
    """Coefficient of variation of each neuron's inter-spike intervals,
    ``CV = std(ISI) / mean(ISI)`` (population standard deviation, ``ddof=0``).

    0 for a perfectly regular train, 1 for a Poisson process. Neurons with fewer than 3
    spikes in the window (fewer than 2 intervals) get NaN.

    Returns:
        ``[n]`` dimensionless CVs (NaN where undefined).
    """
    intervals = isi(spikes, duration, n=n, t_start=t_start, batch=batch)
    out = np.full(len(intervals), np.nan)
    for k, d in enumerate(intervals):
        if d.size >= 2 and d.mean() > 0:
            out[k] = d.std() / d.mean()
    return out


def mean_cv(spikes: Any, duration: Any = None, *, n: int | None = None, t_start: Any = None,
            batch: int = 0) -> float:
    """Mean ISI CV over the neurons where it is defined (at least 3 spikes); NaN if none."""
    cv = cv_isi(spikes, duration, n=n, t_start=t_start, batch=batch)
    ok = ~np.isnan(cv)
    return float(cv[ok].mean()) if ok.any() else math.nan


def fano_factor(spikes: Any, duration: Any = None, *, window: Any = 100 * ms,
                n: int | None = None, t_start: Any = None, batch: int = 0) -> np.ndarray:
    """Fano factor of each neuron's spike counts in consecutive windows,
    ``F = var(counts) / mean(counts)`` (unbiased variance, ``ddof=1``).

    The window is split into non-overlapping windows of width ``window`` (a time, a bare
    number means ms; default 100 ms; a partial last window is dropped). 1 for a Poisson
    process, 0 for a perfectly regular train whose period divides ``window``.

    Returns:
        ``[n]`` dimensionless Fano factors; NaN for neurons without spikes.
    """
    st = _trains(spikes, duration, n, t_start, batch, True, "fano_factor")
    width, n_win = _bins(st, window, "fano_factor", "window")
    if n_win < 2:
        raise ParameterError(f"fano_factor needs at least 2 windows: window={width} s is "
                             f"more than half the duration ({st.duration} s)")
    i, k = _bin_index(st, width, n_win)
    counts = _dense(i, k, np.arange(st.n), st.n, n_win)
    mean = counts.mean(axis=1)
    var = counts.var(axis=1, ddof=1)
    out = np.full(st.n, np.nan)
    ok = mean > 0
    out[ok] = var[ok] / mean[ok]
    return out


def synchrony(spikes: Any, duration: Any = None, *, bin: Any = 1 * ms,
              smooth: str | None = None, width: Any = None, n: int | None = None,
              t_start: Any = None, batch: int = 0) -> float:
    """Golomb's synchrony measure χ (chi) of the binned spike trains.

    With ``c_k(t)`` the spike count of neuron ``k`` in the bin at ``t`` (optionally
    smoothed), ``P(t) = (1/n) Σ_k c_k(t)`` the population activity and ``var`` the
    variance over time bins::

        χ² = var(P) / ((1/n) Σ_k var(c_k))

    χ is 1 when all neurons fire identically and about ``1/sqrt(n)`` for independent
    trains; silent neurons count (``n`` of them all), so ``m`` identical active neurons
    among ``n`` give ``χ = sqrt(m/n)``. χ² is the variance ratio of the population count,
    ``var(Σ c_k) / Σ var(c_k)``, divided by ``n``. The result depends on ``bin``: spikes
    closer than a bin count as synchronous.

    Args:
        bin: bin width (a time, a bare number means ms; default 1 ms).
        smooth: ``None``, ``"gaussian"`` (``width`` = standard deviation) or ``"box"``
            (``width`` = window length): smooth each train before taking variances.
        width: width of the smoothing window (a time, a bare number means ms).

    Returns:
        χ, dimensionless, in [0, 1]; NaN when no neuron's activity varies.
    """
    st = _trains(spikes, duration, n, t_start, batch, True, "synchrony")
    width_s, n_bins = _bins(st, bin, "synchrony")
    i, k = _bin_index(st, width_s, n_bins)
    if smooth is None:  # sparse: sums of squares from the occupied (neuron, bin) pairs
        total, sq = _sums(i, k, st.n, n_bins)
        var_each = (n_bins * sq - total ** 2) / float(n_bins) ** 2  # exact numerator
        pop = np.bincount(k, minlength=n_bins) / st.n
    else:
        kern = _kernel(smooth, width, width_s)
        var_each = np.zeros(st.n)
        pop = np.zeros(n_bins)
        step = max(1, _CHUNK // n_bins)
        for a in range(0, st.n, step):
            rows = np.arange(a, min(st.n, a + step))
            x = _smooth(_dense(i, k, rows, st.n, n_bins), kern)
            var_each[rows] = x.var(axis=1)
            pop += x.sum(axis=0) / st.n
    denom = float(np.clip(var_each, 0.0, None).mean())
    if not denom > 0:
        return math.nan
    return float(min(1.0, math.sqrt(max(0.0, float(pop.var())) / denom)))


def population_rate(spikes: Any, duration: Any = None, *, bin: Any = 1 * ms,
                    smooth: str | None = None, width: Any = None, n: int | None = None,
                    t_start: Any = None, batch: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Population rate: spikes of all ``n`` neurons per bin / (``n`` · ``bin``).

    ``bin`` and ``width`` are times (a bare number means ms; ``bin`` defaults to 1 ms).
    With ``bin`` equal to the time step (``bin=sim.dt*second``: ``sim.dt`` is a float in
    s) this is what a ``PopulationRateMonitor`` records. ``smooth="gaussian"`` convolves
    it with a Gaussian of standard deviation ``width`` (truncated at ±4 σ),
    ``smooth="box"`` with a centred flat window of ``width`` (an odd number of bins, as
    Brian2's ``smooth_rate``); near the ends the window is renormalised over the part
    inside the data, so the ends are not pulled towards 0.

    Returns:
        ``(t, rate)``: start time of each bin in s, and the rate in Hz.
    """
    st = _trains(spikes, duration, n, t_start, batch, True, "population_rate")
    width_s, n_bins = _bins(st, bin, "population_rate")
    _, k = _bin_index(st, width_s, n_bins)
    rate = np.bincount(k, minlength=n_bins) / (st.n * width_s)
    if smooth is not None:
        rate = _smooth(rate[None, :], _kernel(smooth, width, width_s))[0]
    return st.t_start + np.arange(n_bins) * width_s, rate


def _pairs(m: int, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Distinct unordered pairs (a < b) of ``m`` items: all, or ``n_pairs`` at random."""
    total = m * (m - 1) // 2
    if total <= n_pairs:
        return np.triu_indices(m, 1)
    idx = rng.choice(total, size=n_pairs, replace=False)
    # row a holds the pairs (a, a+1..m-1); rows before a hold s(a) = a*(2m-a-1)/2 pairs
    a = (m - 2 - np.floor(np.sqrt(-8.0 * idx + 4.0 * m * (m - 1) - 7) / 2 - 0.5)).astype(
        np.int64)
    b = idx + a + 1 - total + (m - a) * (m - a - 1) // 2
    return a, b


def pairwise_correlation(spikes: Any, duration: Any = None, *, bin: Any = 5 * ms,
                         n_pairs: int = 1000, seed: int = 0, n: int | None = None,
                         t_start: Any = None, batch: int = 0) -> float:
    """Mean Pearson correlation coefficient of binned spike counts over pairs of neurons.

    The counts in bins of ``bin`` (a time, a bare number means ms; default 5 ms) are
    correlated for ``n_pairs`` distinct pairs drawn at random (seeded by ``seed``) from
    the neurons whose counts vary (silent neurons have no correlation coefficient); all
    pairs if there are no more than ``n_pairs``. About 0 for independent trains, 1 for
    identical ones.

    Returns:
        The mean coefficient, dimensionless; NaN with fewer than 2 such neurons.
    """
    st = _trains(spikes, duration, n, t_start, batch, True, "pairwise_correlation")
    width_s, n_bins = _bins(st, bin, "pairwise_correlation")
    if isinstance(n_pairs, (bool, np.bool_)) or not isinstance(n_pairs, (int, np.integer)) \
            or n_pairs < 1:
        raise ParameterError(f"n_pairs must be a positive integer, got {n_pairs!r}")
    i, k = _bin_index(st, width_s, n_bins)
    total, sq = _sums(i, k, st.n, n_bins)
    active = np.flatnonzero(n_bins * sq - total ** 2 > 0)  # the counts vary (exact)
    if active.size < 2:
        return math.nan
    a, b = _pairs(active.size, int(n_pairs), np.random.default_rng(seed))
    rows = np.unique(np.concatenate([a, b]))
    x = _dense(i, k, active[rows], st.n, n_bins)
    x -= x.mean(axis=1, keepdims=True)
    x /= np.sqrt((x ** 2).mean(axis=1, keepdims=True))
    pos = np.searchsorted(rows, a), np.searchsorted(rows, b)
    r = np.einsum("pk,pk->p", x[pos[0]], x[pos[1]]) / n_bins
    return float(r.mean())


# ------------------------------------------------------------------ weights
def weight_matrix(sim: Any, connection: Any, var: str = "w", *, batch: int = 0
                  ) -> np.ndarray:
    """A connection's synaptic variable as a dense ``[n_pre, n_post]`` matrix.

    Args:
        sim: the compiled network (``net.compile()``).
        connection: the :class:`~snncc.Connection` (rows and columns are then its pre and
            post groups, slices included) or its name (the whole populations).
        var: the per-synapse variable (default ``"w"``); a value shared by all synapses
            (a constant in ``params``) fills every synapse.
        batch: batch element.

    Returns:
        ``[n_pre, n_post]`` float64 values in the variable's SI unit (its model unit for
        unitless models); NaN where there is no synapse; several synapses between the
        same pair are summed.
    """
    name = connection if isinstance(connection, str) else getattr(connection, "name", None)
    projections = sim.program.projections
    if name not in projections:
        raise NetworkError(f"no connection named {name!r} in the compiled network; "
                           f"connections: {', '.join(projections) or 'none'}")
    proj = projections[name]
    if isinstance(connection, str):
        a0, a1 = 0, sim.program.populations[proj.pre].size
        b0, b1 = 0, sim.program.populations[proj.post].size
    else:
        from snncc.frontend.network import split_group

        _, a0, a1 = split_group(connection.pre)
        _, b0, b1 = split_group(connection.post)
    n_batch = int(sim.program.batch)
    if isinstance(batch, (bool, np.bool_)) or not isinstance(batch, (int, np.integer)) \
            or not 0 <= batch < n_batch:
        raise ParameterError(f"batch must be an integer in [0, {n_batch}), got {batch!r}")
    if var in proj.constants:
        values = np.full(proj.n_synapses, float(proj.constants[var]))
    else:
        try:
            values = sim.get(name, var)[batch].detach().double().cpu().numpy()
        except NetworkError:
            raise NetworkError(f"connection {name!r} has no per-synapse variable {var!r}; "
                               f"its variables: {', '.join(proj.variables) or 'none'}; "
                               f"constants: {', '.join(proj.constants) or 'none'}") from None
    values = np.broadcast_to(np.asarray(values, dtype=np.float64), (proj.n_synapses,))
    out = np.zeros((a1 - a0, b1 - b0))
    hit = np.zeros((a1 - a0, b1 - b0), dtype=bool)
    ii, jj = np.asarray(proj.i) - a0, np.asarray(proj.j) - b0
    np.add.at(out, (ii, jj), values)
    hit[ii, jj] = True
    out[~hit] = np.nan
    return out

