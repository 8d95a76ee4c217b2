"""The stage plan: what one simulation step does, in order (made by
:mod:`snncc.passes.plan`, rendered by every backend).

A step is an ordered tuple of stage nodes, each naming the population, projection or
monitor it acts on. Backends render the stages in this order and decide nothing about it;
backends that launch kernels render :attr:`StagePlan.kernels` instead: the same stages
grouped into kernels (a population's state update, threshold and -- where no synaptic code
in between reads or writes what it changes -- its reset run in one kernel), in launch
order. Both views run the stages of each object in the same relative order.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordState:
    """A state monitor records its variables (the values at the start of the step)."""

    monitor: str
    population: str


@dataclass(frozen=True)
class UpdateState:
    """A neuron population's state update (with its refractoriness)."""

    population: str


@dataclass(frozen=True)
class UpdateSynapses:
    """A projection's clock-driven equations, one step for every synapse."""

    projection: str


@dataclass(frozen=True)
class Threshold:
    """A population emits its spikes (threshold, Poisson draw or generator table) and
    keeps them in its spike history of ``history`` steps (1: this step only)."""

    population: str
    history: int = 1


@dataclass(frozen=True)
class RecordSpikes:
    """A spike or rate monitor records the spikes of this step."""

    monitor: str
    population: str


@dataclass(frozen=True)
class Pathway:
    """A projection's ``on_pre`` or ``on_post`` event code, run for the synapses of the
    neurons that spiked ``d`` steps ago for each ``d`` in ``delays`` (``(0,)`` for
    ``on_post``). ``dense``: the spikes may be delivered as a spike-matmul (connectivity
    of at least :data:`~snncc.passes.plan.DENSE_MIN_DENSITY`, one homogeneous delay, and
    code that only adds to postsynaptic variables values read from the synapse); backends
    without one deliver event-driven. ``late``: the target population has already
    stepped (layered schedule), so the spikes act one step later than their delay.
    ``delivery`` (several delays; code that does not grow with their number):
    ``"queue"``: the spikes of the last ``max(delays)`` steps reach their synapses
    through one table by (source neuron, delay), a spike queue held as data (Brian2's
    semantics for any event code); ``"ring"``: every statement adds to a target variable
    a value fixed per synapse (constants and synapse variables no code writes), so each
    spike adds it at once into a ring of ``max(delays) + 1`` steps per target, read when
    it arrives (GeNN's dendritic delay); ``"direct"``: one delay. A backend whose one
    kernel covers every delay may deliver ``queue`` and ``ring`` pathways that way.

    ``members``: a merged ring (adjacent ``ring`` pathways of one source and one target
    population with the same code, see :class:`SharedStorage`) lists the pathways it
    delivers at once, each with its own delays; ``projection`` is the first one's and
    ``delays`` the union. A backend delivers them as one (one table, one ring per target
    variable) or one member after the other."""

    projection: str
    direction: str  # on_pre | on_post
    source: str  # the population whose spikes trigger it
    delays: tuple[int, ...] = (0,)
    dense: bool = False
    late: bool = False
    delivery: str = "direct"  # direct | queue | ring
    members: tuple[Pathway, ...] = ()

    @property
    def projections(self) -> tuple[str, ...]:
        """The projections this stage delivers (its members', or its own)."""
        return tuple(m.projection for m in self.members) or (self.projection,)


@dataclass(frozen=True)
class SharedStorage:
    """Synapse variable ``variable`` of ``projections`` kept in one array (``[1, total]``,
    each projection's synapses a contiguous slice, in this order), which a merged ring
    pathway reads with one gather; each projection's own variable is a view of its slice.
    ``key`` is the whole array's state key."""

    key: str
    variable: str
    projections: tuple[str, ...]


@dataclass(frozen=True)
class DrawInput:
    """Poisson input ``name`` (``Program.inputs``) adds its draw to a variable of every
    neuron of ``population`` (after the thresholds, before the resets: the synaptic
    slot of a step, like a pathway of delay 0). ``members``: adjacent exact inputs into
    disjoint slices of one population's variable (one per population of a model held in
    one group), merged by the plan: drawn at once, each neuron from its own input's
    table (or one member after the other); ``name`` is the first one's."""

    name: str
    population: str
    members: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The inputs this stage draws (its members, or its own)."""
        return self.members or (self.name,)


@dataclass(frozen=True)
class Reset:
    """A population's reset (its reset statements, ``lastspike`` and the refractory flag)
    for the neurons that spiked this step. ``fused``: no synaptic code between the
    population's threshold and this stage reads or writes what the reset changes, so it
    may run together with the state update and threshold."""

    population: str
    fused: bool = False


@dataclass(frozen=True)
class Slot:
    """Under the ``"layered"`` schedule: the stages that follow, up to the next slot, are
    population ``population``'s (``index`` of ``count``), placed there for ``reason``."""

    index: int
    count: int
    population: str
    reason: str


Stage = RecordState | UpdateState | UpdateSynapses | Threshold | RecordSpikes | Pathway \
    | Reset | Slot | DrawInput

KERNEL_KINDS = ("population", "record", "synapses", "pathway", "reset", "input")


@dataclass(frozen=True)
class Kernel:
    """Stages that run as one kernel, for backends that launch kernels. ``kind``:
    ``population`` (a population's state monitors, state update, threshold, spike
    recording and fused reset; or a spike source), ``record`` (state monitors only, at
    the start of the step, for a population that synaptic code changes before its own
    kernel runs), ``synapses`` (clock-driven equations), ``pathway`` (event code),
    ``reset`` (a reset that could not be fused) or ``input`` (one Poisson input, owned
    by its target population). ``note`` is shown above its launch."""

    kind: str
    owner: str  # the population or projection
    stages: tuple[Stage, ...]
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KERNEL_KINDS:
            raise ValueError(f"unknown kernel kind {self.kind!r}")


@dataclass(frozen=True)
class StagePlan:
    """The step of a program: ``stages`` in order, the same stages as ``kernels``, and
    ``notes`` (why the order is what it is, for the generated code's header)."""

    schedule: str
    stages: tuple[Stage, ...]
    kernels: tuple[Kernel, ...]
    notes: tuple[str, ...] = ()
    shared: tuple[SharedStorage, ...] = ()

    @property
    def history(self) -> dict[str, int]:
        """Spike history length of each spiking population (its threshold stage's)."""
        return {s.population: s.history for s in self.stages if isinstance(s, Threshold)}

    def describe(self) -> str:
        """The stages, one per line, then the kernels."""
        lines = [f"step ({self.schedule} schedule):"]
        lines += ["  " + stage_text(s) for s in self.stages]
        lines.append("kernels (backends that launch kernels):")
        lines += [f"  {k.kind} {k.owner}: " + "; ".join(stage_text(s) for s in k.stages)
                  for k in self.kernels]
        if self.shared:
            lines.append("shared storage:")
            lines += [f"  {sh.key}: {sh.variable} of {', '.join(sh.projections)}"
                      for sh in self.shared]
        return "\n".join(lines)


def stage_text(s: Stage) -> str:
    """A short readable form of one stage."""
    if isinstance(s, Slot):
        return f"-- {s.index}/{s.count}: {s.population} ({s.reason})"
    if isinstance(s, Pathway):
        if s.delivery != "direct":
            extra = [f"{len(s.delays)} delays {s.delays[0]}..{s.delays[-1]}, {s.delivery}"]
        else:
            extra = [f"delays {','.join(map(str, s.delays))}"] if s.delays != (0,) else []
        extra += ["dense"] * s.dense + ["one step late"] * s.late
        name = "+".join(s.projections) if s.members else s.projection
        return f"{name}.{s.direction}" + (f" ({', '.join(extra)})" if extra else "")
    if isinstance(s, DrawInput):
        return f"Poisson input {'+'.join(s.names)} -> {s.population}"
    if isinstance(s, Reset):
        return f"reset {s.population}" + (" (fusable)" if s.fused else "")
    owner = getattr(s, "monitor", None) or getattr(s, "population", None) \
        or getattr(s, "projection", "")
    return f"{type(s).__name__} {owner}"
