"""The IR: plain dataclasses describing what one simulation step computes.

No behaviour beyond validation and printing. Expressions are sympy; names inside them
are symbols of the owning object's variables (synapse code uses ``x_pre`` / ``x_post``
for the variables of the pre- and postsynaptic population). Values are in SI units for
unit-aware models and in the model's own units (times in ms) for unitless ones; each
population records its ``time_scale`` (model time units per second).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import sympy

from snncc.ir.plan import StagePlan
from snncc.ir.statements import Statement
from snncc.units import Dimension

VAR_KINDS = ("state", "param", "shared", "internal")
SCHEDULES = ("brian2", "layered")


@dataclass
class Variable:
    """A typed variable of a population (one value per neuron) or a projection (one per
    synapse). ``kind``: ``state`` (has an ODE), ``param`` (per-element value),
    ``shared`` (one value, not folded), ``internal`` (lastspike, refractory flag).
    ``init`` is a number, an array, or a sympy expression evaluated at build time."""

    name: str
    dim: Dimension | None
    kind: str = "param"
    dtype: str = "float"  # float | int | bool
    init: object = 0.0
    constant: bool = False

    def __post_init__(self) -> None:
        if self.kind not in VAR_KINDS:
            raise ValueError(f"unknown variable kind {self.kind!r}")


@dataclass
class ODE:
    """``d name/dt = rhs`` (subexpressions substituted); ``text`` is the source line."""

    name: str
    rhs: sympy.Expr
    text: str


@dataclass
class Population:
    """A group of neurons (or a spike source) with its per-step code."""

    name: str
    size: int
    kind: str = "neuron"  # neuron | poisson | generator
    variables: dict[str, Variable] = field(default_factory=dict)
    constants: dict[str, float] = field(default_factory=dict)
    odes: list[ODE] = field(default_factory=list)
    subexpressions: dict[str, sympy.Expr] = field(default_factory=dict)
    subexpression_texts: dict[str, str] = field(default_factory=dict)  # name -> source line
    # subexpressions flagged (constant over dt): stored variables (kind "internal") that
    # the ``integrate`` pass computes at the start of the state update, from the state
    # before it; the ODEs, threshold, reset and synapses read the stored value
    constant_over_dt: dict[str, sympy.Expr] = field(default_factory=dict)
    method: str | None = None
    method_used: str | None = None
    update: list[Statement] = field(default_factory=list)
    unless_refractory: tuple[str, ...] = ()
    threshold: sympy.Expr | None = None
    threshold_text: str = ""
    reset: list[Statement] = field(default_factory=list)
    refractory: sympy.Expr | None = None  # a boolean "is refractory" condition
    refractory_text: str = ""
    # set by the ``refractory`` pass, which lowers the condition into ``update``,
    # ``threshold`` and ``reset``; ``carried``: temporaries of the state update that a
    # later stage of the step reads (the threshold reads ``_not_refractory``)
    refractory_lowered: bool = False
    carried: tuple[str, ...] = ()
    time_scale: float = 1.0
    # spike sources
    rates: sympy.Expr | None = None  # poisson: rate expression (per model time unit)
    spike_steps: np.ndarray | None = None  # generator: step of each spike (sorted)
    spike_indices: np.ndarray | None = None
    model_name: str = ""
    equations_text: str = ""
    removed: tuple[str, ...] = ()  # state variables removed as dead by ``prune``

    @property
    def has_spikes(self) -> bool:
        return self.kind != "neuron" or self.threshold is not None

    @property
    def updated_variables(self) -> set[str]:
        """The variables the state update writes (committed after its temporaries): the
        ODEs' variables, the (constant over dt) subexpressions and any other variable an
        update statement assigns (the refractory flag)."""
        return ({o.name for o in self.odes} | set(self.constant_over_dt)
                | {s.target for s in self.update if s.target in self.variables})

    def with_(self, **changes: object) -> Population:
        return replace(self, **changes)


@dataclass
class Projection:
    """Synapses from ``pre`` to ``post``: explicit pairs, per-synapse variables and the
    event code run when a presynaptic (``on_pre``) or postsynaptic (``on_post``) spike
    arrives. ``delay`` holds per-synapse delays in steps (one value if homogeneous).

    Two kinds of synaptic differential equations: ``odes`` (event-driven) are advanced
    from ``lastupdate`` to ``t`` just before event code runs; ``clock_odes``
    (clock-driven) are integrated every step for every synapse, after the neuron state
    updates and before thresholds take effect (events, resets), and may read ``x_pre`` /
    ``x_post``."""

    name: str
    pre: str
    post: str
    i: np.ndarray
    j: np.ndarray
    variables: dict[str, Variable] = field(default_factory=dict)
    constants: dict[str, float] = field(default_factory=dict)
    on_pre: list[Statement] = field(default_factory=list)
    on_post: list[Statement] = field(default_factory=list)
    on_pre_text: str = ""
    on_post_text: str = ""
    delay: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    time_scale: float = 1.0
    # event-driven equations: advanced from ``lastupdate`` to ``t`` before event code
    odes: list[ODE] = field(default_factory=list)
    method: str | None = None
    method_used: str | None = None
    update: list[Statement] = field(default_factory=list)  # in terms of ``_elapsed``
    # clock-driven equations: one step of ``dt`` every step, for every synapse
    clock_odes: list[ODE] = field(default_factory=list)
    clock_method_used: str | None = None
    clock_update: list[Statement] = field(default_factory=list)
    subexpression_texts: dict[str, str] = field(default_factory=dict)  # name -> source line

    @property
    def n_synapses(self) -> int:
        return int(self.i.shape[0])

    def with_(self, **changes: object) -> Projection:
        return replace(self, **changes)


@dataclass
class Monitor:
    """A recording: ``spike`` (indices and steps), ``state`` (variables of chosen
    elements each step), ``rate`` (population rate each step)."""

    name: str
    kind: str
    target: str
    variables: tuple[str, ...] = ()
    record: np.ndarray | None = None
    every: int = 1


#: the largest mean ``N*p`` of a Poisson input drawn exactly (by inversion); above it the
#: normal approximation (see :class:`PoissonInput`)
INPUT_EXACT_MAX_MEAN = 30.0


def index_dtype(bound: int) -> type[np.integer]:
    """The integer type of indices or counts below ``bound``: int32 where they fit (4
    bytes per synapse instead of 8), else int64."""
    return np.int32 if bound < 2**31 else np.int64


@dataclass(frozen=True)
class PoissonInput:
    """``n`` independent Poisson sources of rate ``rate`` (Hz) into ``variable`` of every
    neuron of population ``target`` (Brian2's ``PoissonInput``): each step, after the
    thresholds and before the resets, ``variable += weight * X`` with ``X ~ Binomial(n,
    p)``, ``p = rate * dt``, one independent draw per neuron and step. ``weight`` is in
    the target variable's units (SI for a unit-aware model, model units otherwise).

    ``method`` (fixed here, the same for every backend): ``"inversion"`` (exact) when
    ``n * p <= INPUT_EXACT_MAX_MEAN``, else ``"normal"``: ``X = round(n p + sqrt(n p
    (1 - p)) z)`` clipped to ``[0, n]``, ``z`` standard normal."""

    name: str
    target: str
    variable: str
    n: int
    p: float
    weight: float
    rate: float  # Hz, for the generated code's comment
    start: int = 0  # the neurons [start, stop) of the target (a slice of it)
    stop: int = -1  # -1: to the end

    @property
    def method(self) -> str:
        return "inversion" if self.n * self.p <= INPUT_EXACT_MAX_MEAN else "normal"

    @property
    def flipped(self) -> bool:
        """An exact draw is of ``Y ~ Binomial(n, q = 1 - p)``, ``X = n - Y`` (``p > 1/2``:
        fewer terms, and ``q < 1``)."""
        return self.p > 0.5

    @property
    def q(self) -> float:
        """The probability an exact draw walks (``p``, or ``1 - p`` where flipped)."""
        return 1.0 - self.p if self.flipped else self.p

    def span(self, size: int) -> tuple[int, int]:
        """The neurons ``[start, stop)`` it reaches in its target of ``size`` neurons."""
        return self.start, size if self.stop < 0 else self.stop

    def describe(self) -> str:
        """One line: what is added, and how it is drawn."""
        how = ("exact, by inversion" if self.method == "inversion" else
               "normal approximation round(N p + sqrt(N p (1-p)) z), clipped to [0, N]")
        part = f"[{self.start}:{self.stop}]" if self.start or self.stop >= 0 else ""
        return (f"{self.name}: {self.target}{part}.{self.variable} += {self.weight:g} * X, "
                f"X ~ Binomial(N={self.n}, p={self.p:g}) ({self.n} sources at "
                f"{self.rate:g} Hz; {how})")


@dataclass
class Program:
    """The whole network: populations, projections, monitors, step size and seed.

    ``schedule`` is the order of the stages of a step: ``"brian2"`` (every state update,
    then every threshold, every synaptic pathway, every reset) or ``"layered"`` (one
    population at a time, in ``order``: its state update, threshold, outgoing ``on_pre``
    pathways, the ``on_post`` pathways of the projections into it, its reset). ``order``
    and ``late`` (projections delivering into a population already stepped, so one step
    later than their delay) are filled by the ``schedule`` pass, ``plan`` (the ordered
    stages every backend renders) by the ``plan`` pass."""

    dt: float  # seconds
    populations: dict[str, Population]
    projections: dict[str, Projection] = field(default_factory=dict)
    monitors: dict[str, Monitor] = field(default_factory=dict)
    seed: int | None = None
    batch: int = 1
    passes: list[str] = field(default_factory=list)
    schedule: str = "brian2"
    order: tuple[str, ...] = ()
    late: tuple[str, ...] = ()
    plan: StagePlan | None = None  # the ordered stages of a step (the ``plan`` pass)
    inputs: dict[str, PoissonInput] = field(default_factory=dict)  # Poisson inputs by name

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}")

    def with_(self, **changes: object) -> Program:
        return replace(self, **changes)

    def describe(self) -> str:
        """A readable summary: populations, state, integrators, projections."""
        lines = [f"Program: dt = {self.dt * 1e3:g} ms, batch = {self.batch}, "
                 f"seed = {self.seed}"]
        if self.schedule == "layered":
            lines.append("  schedule: layered (one population at a time: update, threshold, "
                         "on_pre out, on_post in, reset), order "
                         + (" -> ".join(self.order) or "not fixed yet (schedule pass)"))
            if self.late:
                lines.append("    one step later than their delay (target already stepped): "
                             + ", ".join(self.late))
        else:
            lines.append("  schedule: brian2 (all updates, thresholds, synapses, resets)")
        for p in self.populations.values():
            lines.append(f"  population {p.name} ({p.kind}, {p.size} neurons"
                         + (f", model {p.model_name}" if p.model_name else "") + ")")
            for v in p.variables.values():
                dim = str(v.dim) if v.dim is not None else "unitless"
                lines.append(f"    {v.kind:8s} {v.name} : {dim}")
            if p.constant_over_dt:
                lines.append("    constant over dt (stored, computed before the update): "
                             + ", ".join(p.constant_over_dt))
            if p.odes:
                lines.append(f"    integrator: {p.method_used or p.method or 'auto'}")
            if p.threshold is not None:
                lines.append(f"    threshold: {p.threshold_text}")
            if p.reset:
                lines.append("    reset: " + "; ".join(s.comment or str(s) for s in p.reset))
            if p.refractory is not None:
                lines.append(f"    refractory: {p.refractory_text}")
            if p.removed:
                lines.append(f"    removed (affects nothing observable): "
                             f"{', '.join(p.removed)}")
        for pr in self.projections.values():
            d = np.unique(pr.delay)
            dtext = (f"{int(d[0])} steps" if d.size == 1 else f"{d.size} distinct delays "
                     f"({int(d.min())}-{int(d.max())} steps)")
            lines.append(f"  projection {pr.name}: {pr.pre} -> {pr.post}, {pr.n_synapses} "
                         f"synapses, delay {dtext}")
            if pr.odes:
                lines.append(f"    event-driven ({pr.method_used or pr.method or 'auto'}): "
                             + "; ".join(o.name for o in pr.odes))
            if pr.clock_odes:
                lines.append(f"    clock-driven ({pr.clock_method_used or pr.method or 'auto'})"
                             ": " + "; ".join(o.name for o in pr.clock_odes))
            for what, text in (("on_pre", pr.on_pre_text), ("on_post", pr.on_post_text)):
                if text.strip():
                    lines.append(f"    {what}: " + "; ".join(
                        ln.strip() for ln in text.strip().splitlines() if ln.strip()))
        for inp in self.inputs.values():
            lines.append(f"  Poisson input {inp.describe()}")
        for m in self.monitors.values():
            lines.append(f"  monitor {m.name}: {m.kind} of {m.target}"
                         + (f" {', '.join(m.variables)}" if m.variables else ""))
        if self.passes:
            lines.append("  passes: " + " -> ".join(self.passes))
        return "\n".join(lines)


def refractory_steps(e: sympy.Expr | None) -> int | None:
    """K if ``e`` is ``_n - lastspike < K`` (time-based refractoriness), else None."""
    if e is None:
        return None
    n, ls = sympy.Symbol("_n", real=True), sympy.Symbol("lastspike", real=True)
    if isinstance(e, sympy.StrictLessThan) and sympy.simplify(e.lhs - (n - ls)) == 0 \
            and e.rhs.is_number:
        return int(e.rhs)
    return None
