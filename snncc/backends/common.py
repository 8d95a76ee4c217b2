"""What every code generator shares: what it hands the runtime (:class:`Generated`, with
the :class:`StateSpec` of each state tensor it owns), and what it needs from an IR program,
computed in one place: its stage plan, and synapse tables grouped by source neuron."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from snncc.errors import BackendError
from snncc.ir import program as ir
from snncc.ir.layer import LayerStep, h
from snncc.ir.plan import StagePlan


@dataclass
class StateSpec:
    """A state tensor the runtime must allocate (and save in ``state_dict``)."""

    shape: tuple[int, ...]
    dtype: str  # float | int | bool | int8
    init: object = 0.0


@dataclass
class Recorder:
    """A device buffer a monitor records into, ``[chunk steps, lanes]``: ``raster``
    (int8 spikes of a population) or ``state`` (values of recorded neurons)."""

    key: str
    kind: str  # raster | state
    lanes: int
    dtype: str  # int8 | float


@dataclass
class Generated:
    """What a backend produces for a program: the source, static arrays (moved to the
    device), host-side data, the state it owns, its kernels (none for a single generated
    step function) and, for a backend whose ``loop`` is ``"device"``
    (:class:`~snncc.runtime.device_loop.DeviceLoop`), the monitors' device buffers."""

    source: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    host: dict[str, object] = field(default_factory=dict)
    state: dict[str, StateSpec] = field(default_factory=dict)
    kernels: list[str] = field(default_factory=list)
    recorders: dict[str, Recorder] = field(default_factory=dict)
    # monitor name -> (kind, recorder key(s), population lanes, population size)
    monitors: dict[str, tuple] = field(default_factory=dict)


@dataclass(frozen=True)
class Line:
    """One line of generated code and the comment above it (either may be empty; the
    comment is user-visible text and is rendered through ``comment_text``)."""

    code: str = ""
    comment: str = ""


def _visible(c: str) -> str:
    """A character of a comment as itself if printable, else a space (whitespace) or an
    escape such as ``\\x00`` / ``\\u202e``."""
    if c.isprintable():
        return c
    if c.isspace():
        return " "
    return repr(c)[1:-1] if ord(c) < 0x10000 else f"\\U{ord(c):08x}"


def comment_text(text: object, closer: str = "") -> str:
    """``text`` as the body of a one-line comment of generated code: its lines (split
    wherever Python splits lines: ``\\n``, ``\\r``, form feed, ``\\x1c``-``\\x1e``,
    ``\\x85``, ``\\u2028``, ...) stripped and joined by ``"; "``, every other character
    that is not printable (NUL, tabs, bidi controls, ...) a space or an escape, and
    ``closer`` (what ends a comment in the target, e.g. ``"*/"``) broken apart. The one
    way user text enters generated code: the result cannot end the comment it is in."""
    one = "; ".join(ln.strip() for ln in str(text).splitlines() if ln.strip())
    out = "".join(_visible(c) for c in one)
    while closer and closer in out:
        out = out.replace(closer, f"{closer[0]} {closer[1:]}")
    return out


class LocalNames:
    """The names of generated locals, one per (owner, what, role): ``<owner>_<what>``
    (``<owner>_<role>`` for a role such as ``spk``; ``<owner>_<what>_<role>`` for both),
    with a number appended where Python would read it as a name already given out or
    reserved (it compares identifiers NFKC-normalized, as Python does: ``ﬁ`` is ``fi``).
    So group ``A`` with variable ``b_c`` and group ``A_b`` with ``c`` never share a
    variable, and no user name becomes a name that starts with ``_`` (the generated
    code's temporaries) or a reserved one."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.taken = {unicodedata.normalize("NFKC", r) for r in reserved}
        self.given: dict[tuple[str, str, str, str], str] = {}

    def __call__(self, owner: str, what: str = "", role: str = "", *, kind: str = "") -> str:
        """The local of ``owner``'s ``what`` in ``role``; ``kind`` keeps apart things of
        one name (a state variable and a static array) without showing in the name."""
        key = (owner, what, role, kind)
        if key not in self.given:
            base = "_".join(x for x in key[:3] if x)
            base = "o" + base if base.startswith("_") else base
            name, k = base, 1
            while unicodedata.normalize("NFKC", name) in self.taken:
                k += 1
                name = f"{base}_{k}"
            self.taken.add(unicodedata.normalize("NFKC", name))
            self.given[key] = name
        return self.given[key]


def stage_plan(program: ir.Program) -> StagePlan:
    """The stage plan a backend renders (``Program.plan``, made by the ``plan`` pass)."""
    if program.plan is None:
        raise BackendError("the program has no stage plan: run snncc.passes.run_passes "
                           "(or snncc.passes.plan) first")
    return program.plan


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


def index_array(values: np.ndarray, bound: int) -> np.ndarray:
    """``values`` (indices or counts, all below ``bound``) as int32 where ``bound`` fits,
    else int64: half the bytes per synapse for every table of fewer than 2**31 entries."""
    return np.ascontiguousarray(values, dtype=ir.index_dtype(bound))


def delay_table(src_index: np.ndarray, delay: np.ndarray, delays: tuple[int, ...],
                n_src: int) -> tuple[np.ndarray, np.ndarray]:
    """The synapses of a pathway with several delays as a table by (source neuron,
    delay): ``(ptr, syn)`` with the synapses of source ``s`` and delay ``delays[g]`` at
    ``syn[ptr[s * D + g]:ptr[s * D + g + 1]]`` (ascending ids; ``D = len(delays)``). Its
    size does not depend on how the delays are distributed (no padding)."""
    D = len(delays)
    g = np.searchsorted(np.asarray(delays, dtype=np.int64), delay)
    key = src_index.astype(np.int64) * D + g
    syn = np.argsort(key, kind="stable").astype(np.int64)
    ptr = np.zeros(n_src * D + 1, dtype=np.int64)
    np.cumsum(np.bincount(key, minlength=n_src * D), out=ptr[1:])
    return ptr, syn


def ring_table(prs: list[ir.Projection], n_src: int, BN: int, R: int
               ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The synapses of ring pathway(s) ``prs`` (one after the other) by source:
    ``(ptr, syn, packed)``, source ``s``'s synapses at table positions
    ``ptr[s]:ptr[s + 1]``, ``syn`` their ids (None where the synapses are listed by source
    already: then position = id, and nothing is sorted or stored) and ``packed`` each
    position's ``delay * BN + j`` (int32 where ``R * BN`` fits)."""
    S = sum(p.n_synapses for p in prs)
    dtype = ir.index_dtype(R * BN)
    ordered, last = True, -1
    for p in prs:
        if p.n_synapses == 0:
            continue
        if p.i[0] < last or bool(np.any(p.i[1:] < p.i[:-1])):
            ordered = False
            break
        last = int(p.i[-1])
    if ordered:  # O(synapses), 4 bytes per synapse: what a large network needs
        counts = sum(np.bincount(p.i, minlength=n_src) for p in prs)
        ptr = np.zeros(n_src + 1, np.int64)
        np.cumsum(counts, out=ptr[1:])
        packed = np.empty(S, dtype)
        at = 0
        for p in prs:
            seg = packed[at:at + p.n_synapses]
            seg[:] = p.delay  # one value or one per synapse
            seg *= BN
            seg += p.j
            at += p.n_synapses
        return ptr, None, packed
    i = np.concatenate([p.i for p in prs]).astype(np.int64, copy=False)
    ptr, syn = delay_table(i, np.zeros(S, np.int64), (0,), n_src)
    delay = np.concatenate([np.broadcast_to(p.delay, (p.n_synapses,)) for p in prs])
    packed = delay.astype(np.int64)[syn] * BN
    packed += np.concatenate([p.j for p in prs]).astype(np.int64)[syn]
    return ptr, syn, packed.astype(dtype)


INPUT_TAIL = 1e-12  # an inversion draw stops where P(X > k) is below this


def inversion_bound(n: int, q: float) -> int:
    """The smallest ``k`` with ``P(X > k) < INPUT_TAIL`` for ``X ~ Binomial(n, q)``, ``q
    <= 1/2``: the loop bound of an inversion draw (the tail is summed from the pmf in
    log space, not as ``1 - CDF``, which cancels)."""
    if n == 0 or q == 0.0:
        return 0
    mean = n * q
    top = min(n, int(mean + 40.0 * math.sqrt(mean) + 60.0))
    k = np.arange(top + 1)
    logpmf = (math.lgamma(n + 1) - np.array([math.lgamma(x + 1) + math.lgamma(n - x + 1)
                                             for x in k])
              + k * math.log(q) + (n - k) * math.log1p(-q))
    pmf = np.exp(logpmf)
    tail = np.concatenate([np.cumsum(pmf[::-1])[::-1][1:], [0.0]])  # P(k < X <= top)
    return int(np.argmax(tail < INPUT_TAIL))


def inversion_cdf(n: int, q: float) -> np.ndarray:
    """``P(Y <= k)`` for ``k < inversion_bound(n, q)``, ``Y ~ Binomial(n, q)``, by the
    recurrence the kernels walk (``P(0) = (1 - q)**n``, ``P(k + 1) = P(k) (n - k) / (k + 1)
    q / (1 - q)``): an inversion draw is the number of these ``u`` is not below."""
    out = np.empty(inversion_bound(n, q))
    pk, total = math.exp(n * math.log1p(-q)) if q < 1.0 else float(n == 0), 0.0
    for k in range(out.size):
        total += pk
        out[k] = total
        pk *= (n - k) / (k + 1) * q / (1.0 - q)
    return out


@dataclass
class LayerCode:
    """A backend's code for one layer: the source of a module whose
    ``build(DEVICE, DTYPE)`` returns ``(forward, backward)``, and what they exchange.

    ``states``: the differentiable states, in order; ``aux``: bookkeeping states that get
    no gradient (refractoriness), with their initial values; ``saved``: the names of what
    the forward stores per neuron and step; ``reads_input``: the backward needs the
    input sequence."""

    source: str
    states: tuple[str, ...]
    aux: dict[str, float]
    saved: tuple[str, ...]
    reads_input: bool
    tensors: tuple[str, ...]
    trainable: tuple[str, ...]


def layer_names(step: LayerStep, local: Callable[[str], str]) -> dict[str, str]:
    """Symbol name -> name in generated layer code, for every symbol a layer's
    statements use (``local`` maps model names to the target's safe locals)."""
    names: dict[str, str] = {}
    for st in [*step.update, *step.recompute, *step.backward]:
        names[st.target] = local(st.target)
    for x in step.states:
        names[x] = local(x)
        names[h(x)] = h(x)
        names[f"_g_{x}"] = f"_g_{x}"
    for k in [step.input, *step.tensors]:
        names[k] = local(k)
    for a in step.aux:
        names[a] = a
    names.update({"_nr": "_nrf", "_sg": "_sg", "_s": "_s", "_g_s": "_g_s"})
    for v in step.saved:
        names.setdefault(v.name, local(v.name))
    return names


@dataclass(frozen=True)
class LayerHeader:
    """What every layer template shows in its header (all of it user-visible text,
    rendered through the ``comment`` filter): the model, its integrator, the step ``dt``
    (model time units), the equations one line each, threshold, reset, refractoriness
    (``"<k> steps"``, ``"while <condition>"`` or ``None``), the surrogate with its
    ``alpha`` and whether the reset is detached, and the save/recompute plan."""

    model_name: str
    method_used: str
    dt: str
    equations: tuple[str, ...]
    threshold_text: str
    reset_text: str
    refractory: str | None
    surrogate: str
    alpha: str
    detach_reset: bool
    plan: str


def layer_header(step: LayerStep) -> LayerHeader:
    """The :class:`LayerHeader` of ``step``."""
    if step.refractory_steps is not None:
        refractory: str | None = f"{step.refractory_steps} steps"
    elif step.refractory_condition is not None:
        refractory = f"while {step.refractory_condition}"
    else:
        refractory = None
    return LayerHeader(
        model_name=step.model_name, method_used=step.method_used, dt=f"{step.dt:g}",
        equations=tuple(ln.strip() for ln in step.equations_text.strip().splitlines()
                        if ln.strip()),
        threshold_text=step.threshold_text, reset_text=step.reset_text,
        refractory=refractory, surrogate=step.surrogate, alpha=f"{step.alpha:g}",
        detach_reset=step.detach_reset, plan=step.plan)
