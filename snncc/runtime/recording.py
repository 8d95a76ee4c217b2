"""Where monitors' recordings live on the host: numpy columns that grow at their end.

A run reserves the rows it will record before it starts (state and rate monitors record
one row per step, so their arrays are allocated once per run at their final size and the
chunks of the run are copied straight into them); spike recordings, whose size is not
known in advance, grow by at least half their size. Appending is amortised O(1) in the
recorded history, and reading returns a view of the filled rows (no copy).
"""

from __future__ import annotations

import numpy as np


class Rows:
    """A numpy array of rows ``[n, *tail]`` with spare capacity at its end."""

    def __init__(self, tail: tuple[int, ...] = (), dtype: type = np.int64) -> None:
        self._buf = np.zeros((0, *tail), dtype)
        self.n = 0

    @property
    def array(self) -> np.ndarray:
        """The filled rows (a view)."""
        return self._buf[:self.n]

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more rows: exactly that many when the buffer is empty
        or the request is large, else 1.5 times the capacity (amortised O(1))."""
        need = self.n + extra
        cap = self._buf.shape[0]
        if need > cap:
            new = np.empty((max(need, cap + cap // 2), *self._buf.shape[1:]), self._buf.dtype)
            new[:self.n] = self._buf[:self.n]
            self._buf = new

    def free(self, k: int) -> np.ndarray:
        """A writable view of the next ``k`` rows (reserved first); ``commit`` keeps them."""
        self.reserve(k)
        return self._buf[self.n:self.n + k]

    def commit(self, k: int) -> None:
        """Keep the ``k`` rows written after the filled ones."""
        self.n += k

    def append(self, rows: np.ndarray) -> None:
        """Copy ``rows`` to the end."""
        self.free(len(rows))[...] = rows
        self.commit(len(rows))

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` rows, in a new buffer: views handed out before still show
        the rows they showed (later writes never reach them)."""
        self._buf = self._buf[:n].copy()
        self.n = min(self.n, n)


class Recording:
    """The rows of one monitor, as columns of equal length; ``steps`` is the step of each
    row (ascending)."""

    dt: float

    def __init__(self, dt: float, columns: dict[str, Rows]) -> None:
        self.dt = dt
        self.columns = {"steps": Rows(), **columns}

    @property
    def steps(self) -> np.ndarray:
        return self.columns["steps"].array

    def __len__(self) -> int:
        return self.columns["steps"].n

    def truncate_at(self, step: int) -> None:
        """Forget the rows recorded at or after ``step``."""
        keep = int(np.searchsorted(self.steps, step, side="left"))
        if keep < len(self):
            for c in self.columns.values():
                c.truncate(keep)


class SpikeData(Recording):
    """Step, neuron index (in the parent group) and batch element of every recorded
    spike."""

    def __init__(self, dt: float) -> None:
        super().__init__(dt, {"indices": Rows(), "batch": Rows()})

    @property
    def indices(self) -> np.ndarray:
        return self.columns["indices"].array

    @property
    def batch(self) -> np.ndarray:
        return self.columns["batch"].array


class StateData(Recording):
    """The recorded values of each variable, ``[n_steps, batch, n_record]`` (float64)."""

    def __init__(self, dt: float, variables: dict[str, tuple[int, int]],
                 dims: dict[str, object], time_scale: float) -> None:
        super().__init__(dt, {f"values.{v}": Rows(shape, np.float64)
                              for v, shape in variables.items()})
        self.dims = dims
        self.time_scale = time_scale

    @property
    def values(self) -> dict[str, np.ndarray]:
        return {k[len("values."):]: c.array for k, c in self.columns.items()
                if k.startswith("values.")}


class RateData(Recording):
    """The spike count of the recorded neurons at each step, ``[n_steps, batch]``."""

    def __init__(self, dt: float, batch: int) -> None:
        super().__init__(dt, {"counts": Rows((batch,))})

    @property
    def counts(self) -> np.ndarray:
        return self.columns["counts"].array
