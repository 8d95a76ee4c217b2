"""What every code generator shares: what it hands the runtime (:class:`Generated`, with
the :class:`StateSpec` of each state tensor it owns), and what it needs from an IR program,
computed in one place: the step count of time-based refractoriness, and synapse tables
grouped by source neuron."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy


@dataclass
class StateSpec:
    """A state tensor the runtime must allocate (and save in ``state_dict``)."""

    shape: tuple[int, ...]
    dtype: str  # float | int | bool | int8
    init: object = 0.0


@dataclass
class Generated:
    """What a backend produces for a program: the source, static arrays (moved to the
    device), host-side data, the state it owns, its kernels (none for a single generated
    step function) and who drives the step loop (``host``: the runtime calls
    ``step(n, rec)``; ``device``: :class:`~snncc.runtime.device_loop.DeviceLoop`)."""

    source: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    host: dict[str, object] = field(default_factory=dict)
    state: dict[str, StateSpec] = field(default_factory=dict)
    kernels: list[str] = field(default_factory=list)
    loop: str = "host"


def refractory_steps(e: sympy.Expr | None) -> int | None:
    """K if ``e`` is ``_n - lastspike < K`` (time-based refractoriness), else None."""
    if e is None:
        return None
    n, ls = sympy.Symbol("_n", real=True), sympy.Symbol("lastspike", real=True)
    if isinstance(e, sympy.StrictLessThan) and sympy.simplify(e.lhs - (n - ls)) == 0 \
            and e.rhs.is_number:
        return int(e.rhs)
    return None


def ell_table(src_index: np.ndarray, syn_ids: np.ndarray, n_src: int
              ) -> tuple[np.ndarray, bool]:
    """Synapse ids grouped by source neuron: an ``[n_src, F]`` table padded with -1.
    Returns the table and whether every row is full (no padding)."""
    order = np.argsort(src_index, kind="stable")
    srt = src_index[order]
    counts = np.bincount(srt, minlength=n_src)
    F = int(counts.max()) if counts.size else 0
    table = np.full((n_src, max(F, 1)), -1, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    col = np.arange(srt.size) - np.repeat(starts, counts)
    table[srt, col] = syn_ids[order]
    return table, bool(F > 0 and np.all(counts == F))
