"""Monitors: SpikeMonitor, StateMonitor, PopulationRateMonitor.

They record during ``sim.run`` and expose Brian2-like attributes afterwards: times as
:class:`~snncc.units.Quantity` in seconds, values in their model units (plain arrays
for unitless models).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from snncc.errors import NetworkError, ParameterError, ShapeError
from snncc.frontend.network import GroupLike, Monitor, split_group
from snncc.runtime.recording import RateData, SpikeData, StateData
from snncc.units import Dimension, Quantity, second, time_to_seconds


def _times(dt: float, steps: np.ndarray) -> Quantity:
    return Quantity(steps.astype(np.float64) * dt, second.dim)


class SpikeMonitor(Monitor):
    """Records the spikes of a group (or a slice of one).

    Attributes after a run: ``i`` (neuron index within the monitored group), ``t``
    (spike times), ``count`` (spikes per neuron), ``num_spikes``; with ``batch > 1``
    also ``b`` (batch element of each spike).
    """

    _kind = "spikemon"

    def __init__(self, source: GroupLike, name: str | None = None) -> None:
        self.source = source
        self.group, self.start, self.stop = split_group(source)
        super().__init__(name)

    def _sel(self) -> tuple[SpikeData, np.ndarray]:
        d: SpikeData = self._need()
        keep = (d.indices >= self.start) & (d.indices < self.stop)
        return d, keep

    @property
    def i(self) -> np.ndarray:
        d, keep = self._sel()
        return d.indices[keep] - self.start

    @property
    def t(self) -> Quantity:
        d, keep = self._sel()
        return _times(d.dt, d.steps[keep])

    @property
    def b(self) -> np.ndarray:
        d, keep = self._sel()
        return d.batch[keep]

    @property
    def count(self) -> np.ndarray:
        return np.bincount(self.i, minlength=self.stop - self.start)

    @property
    def num_spikes(self) -> int:
        return int(self._sel()[1].sum())

    def spike_trains(self) -> dict[int, Quantity]:
        """Spike times of each neuron."""
        i, t = self.i, self.t
        return {k: t[i == k] for k in range(self.stop - self.start)}


class StateMonitor(Monitor):
    """Records variables of chosen neurons every step (before the step's update, as
    Brian2's default ``when='start'``).

    Args:
        source: group or slice.
        variables: a name or list of names.
        record: ``True`` (all), an index, or a list of indices within ``source``.

    After a run, ``mon.t`` and ``mon.<var>`` (shape ``[n_record, n_steps]``, or
    ``[batch, n_record, n_steps]`` with ``batch > 1``).
    """

    _kind = "statemon"

    def __init__(self, source: GroupLike, variables: str | Sequence[str],
                 record: bool | int | Sequence[int] = True, name: str | None = None) -> None:
        self.source = source
        self.group, self.start, self.stop = split_group(source)
        self.variables = (variables,) if isinstance(variables, str) else tuple(
            variables if isinstance(variables, (list, tuple)) else [variables])
        if not self.variables or not all(isinstance(v, str) for v in self.variables):
            raise ParameterError(f"StateMonitor needs variable names such as 'v' or "
                                 f"['v', 'ge'], got {variables!r}")
        n = self.stop - self.start
        if record is True:
            rec = np.arange(n)
        elif record is False:
            raise ParameterError("StateMonitor record=False records nothing; pass indices")
        else:
            rec = np.atleast_1d(np.asarray(record))
            if rec.ndim != 1:
                raise ShapeError(f"StateMonitor record must be an index or a 1-d list of "
                                 f"indices, got shape {rec.shape}")
            if rec.size and (not np.issubdtype(rec.dtype, np.integer) or rec.min() < 0
                             or rec.max() >= n):
                raise ParameterError(f"StateMonitor record indices must be integers in "
                                     f"[0, {n}), got {record!r}")
        self.record = rec.astype(np.int64)
        super().__init__(name)

    @property
    def t(self) -> Quantity:
        d: StateData = self._need()
        return _times(d.dt, d.steps)

    def values(self, var: str) -> np.ndarray | Quantity:
        d: StateData = self._need()
        if var not in d.values:
            raise NetworkError(f"StateMonitor {self.name!r} does not record {var!r}; it "
                               f"records {', '.join(self.variables)}")
        arr = np.moveaxis(d.values[var], 0, -1)  # [batch, n_record, n_steps]
        if arr.shape[0] == 1:
            arr = arr[0]
        dim = d.dims.get(var)
        if dim is not None and not dim.is_dimensionless:
            return Quantity(arr, dim)
        return arr

    def __getattr__(self, item: str) -> np.ndarray | Quantity:
        if item.startswith("_") or item not in self.__dict__.get("variables", ()):
            raise AttributeError(item)
        return self.values(item)


class PopulationRateMonitor(Monitor):
    """Records the instantaneous population rate (spikes per neuron per second) each
    step. ``rate`` is a Quantity in Hz, ``t`` the step times; ``smooth_rate(width)``
    averages over a flat window."""

    _kind = "ratemon"

    def __init__(self, source: GroupLike, name: str | None = None) -> None:
        self.source = source
        self.group, self.start, self.stop = split_group(source)
        super().__init__(name)

    @property
    def t(self) -> Quantity:
        d: RateData = self._need()
        return _times(d.dt, d.steps)

    @property
    def rate(self) -> Quantity:
        d: RateData = self._need()
        r = d.counts.astype(np.float64) / ((self.stop - self.start) * d.dt)
        r = r[:, 0] if r.shape[1] == 1 else r.T
        return Quantity(r, Dimension(s=-1))

    def smooth_rate(self, width: float | Quantity) -> Quantity:
        """The rate averaged over a flat window of ``width`` (a bare number: ms)."""
        d: RateData = self._need()
        w = max(1, int(round(time_to_seconds(width, "smooth_rate width") / d.dt)))
        r = self.rate
        vals = np.asarray(r.value)
        kernel = np.ones(w) / w
        sm = (np.convolve(vals, kernel, mode="same") if vals.ndim == 1 else
              np.stack([np.convolve(v, kernel, mode="same") for v in vals]))
        return Quantity(sm, r.dim)
