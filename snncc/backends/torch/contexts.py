"""What each torch template gets: one frozen dataclass per template of
``templates/torch/`` (named after the stage it renders), passed as ``c``.

Code comes as :class:`~snncc.backends.common.Line` lists without indentation; the
templates place them with the ``code`` filter. Texts shown after ``#`` (names, equations)
go through the ``comment`` filter in the templates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snncc.backends.common import LayerHeader, Line


@dataclass(frozen=True)
class RecordStateContext:
    """``record_state.j2``: a state monitor appends its variables to ``rec``."""

    name: str
    target: str
    lines: list[Line]


@dataclass(frozen=True)
class RecordSpikesContext:
    """``record_spikes.j2``: a spike or rate monitor appends ``(n, spikes)`` to ``rec``."""

    name: str
    kind: str  # spike | rate
    target: str
    spikes: str  # the local holding the flat indices of this step's spikes


@dataclass(frozen=True)
class UpdateStateContext:
    """``update_state.j2``: a neuron population's state update (refractoriness included,
    as statements)."""

    name: str
    size: int
    model: str
    method: str
    equations: list[str]
    subexpressions: list[str]
    lines: list[Line]


@dataclass(frozen=True)
class UpdateSynapsesContext:
    """``update_synapses.j2``: the clock-driven equations of a projection."""

    name: str
    pre: str
    post: str
    n_syn: int
    method: str
    equations: list[str]
    subexpressions: list[str]
    lines: list[Line]


@dataclass(frozen=True)
class SpikeTable:
    """The spikes of a spike generator: ``steps`` (host, sorted) and ``indices`` (device)
    are the locals of its table, ``shape`` the local of the population's shape."""

    steps: str
    indices: str
    shape: str


@dataclass(frozen=True)
class ThresholdContext:
    """``threshold.j2``: the spikes of a population, ``spikes = condition`` (a neuron
    threshold or a Poisson draw) or read from a generator's ``table``, then ``lines``
    (index list, spike history)."""

    name: str
    text: str
    spikes: str
    condition: str | None
    table: SpikeTable | None
    lines: list[Line]


@dataclass(frozen=True)
class EventDrivenUpdate:
    """The event-driven equations of a projection (``method``), advanced for the synapses
    of the spikes from their last update to ``t`` before the event code runs."""

    method: str
    equations: list[str]
    lines: list[Line]


@dataclass(frozen=True)
class DelayGroup:
    """The synapses of a pathway (of its one delay, or of all, queued or ringed): ``label``
    names them, ``spikes`` is the code of the flat indices ``_idx`` of the spikes that
    arrive now; ``gather`` finds their synapses, ``update`` (if any) advances them,
    ``statements`` is the event code."""

    label: str
    n_syn: int
    spikes: str
    gather: list[Line]
    update: EventDrivenUpdate | None
    statements: list[Line]


@dataclass(frozen=True)
class PathwayContext:
    """``pathway.j2``: a projection's ``on_pre`` or ``on_post`` event code, for the
    synapses of ``group``; ``arrivals``: run every step after it (a ring pathway's
    inputs that arrive now)."""

    name: str
    pre: str
    post: str
    n_syn: int
    direction: str
    source_lines: list[str]
    group: DelayGroup
    arrivals: list[Line] = field(default_factory=list)


@dataclass(frozen=True)
class ResetContext:
    """``reset.j2``: the reset of the neurons that spiked this step."""

    name: str
    lines: list[Line]


@dataclass(frozen=True)
class DrawInputContext:
    """``draw_input.j2``: a Poisson input adds ``weight * X`` (``X`` drawn by ``draw``,
    one per neuron and batch entry) to the flat target variable ``target``;
    ``text`` says what and how (the IR's :class:`~snncc.ir.program.PoissonInput`)."""

    name: str
    population: str
    text: str
    draw: list[Line]
    add: Line


@dataclass(frozen=True)
class SlotContext:
    """``slot.j2`` (``layered`` schedule): the header of the stages of population
    ``population``, ``index`` of ``count``, placed there for ``reason``."""

    index: int
    count: int
    population: str
    reason: str


@dataclass(frozen=True)
class NetworkContext:
    """``network.py.j2``: the module. ``helpers``: the helpers of ``_helpers.j2`` and the
    modules (``math``) that the code calls; ``numpy``: it calls ``np``; ``blocks``: the
    rendered stages, in plan order."""

    name: str
    dt_ms: str
    dt_s: str
    dt_ms_exact: str
    batch: int
    passes: str
    schedule: tuple[str, ...]
    helpers: frozenset[str]
    numpy: bool
    bindings: list[Line]
    need_t_ms: bool
    blocks: list[str]


@dataclass(frozen=True)
class LayerTensor:
    """A tensor parameter of a layer: its ``name`` in ``P`` and its ``local``."""

    name: str
    local: str


@dataclass(frozen=True)
class SavedValue:
    """What the forward stores per step for the backward: ``code`` (its value), the
    ``local`` the backward loads it into, and ``why`` it is saved."""

    code: str
    local: str
    why: str


@dataclass(frozen=True)
class LayerContext:
    """``layer.py.j2``: a multi-step layer's ``forward`` and ``backward``. ``header`` is
    :class:`~snncc.backends.common.LayerHeader`; ``fwd`` ends with the spikes ``_s_b``,
    ``reset`` commits the states; ``bwd`` ends with ``_g_in`` and the ``_gn_<state>``."""

    header: LayerHeader
    helpers: frozenset[str]
    states: tuple[str, ...]
    states_unpack: str
    aux: tuple[str, ...]
    tensors: list[LayerTensor]
    trainable: tuple[str, ...]
    saved: list[SavedValue]
    input_local: str
    reads_input: bool
    fwd: list[Line]
    reset: list[Line]
    bwd: list[Line]
    states_list: str
    grad_states_list: str
