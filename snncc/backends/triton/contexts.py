"""The typed contexts of the Triton stage templates (``templates/triton/<stage>.j2``).

Each stage template renders the body of one kernel from one context, ``c``; the module
template (``network.py.j2``) frames each distinct body as one ``@triton.jit``
:class:`Function` and launches it once per :class:`Launch`. :class:`KernelFrame` collects
a kernel's arguments while its generator writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from snncc.backends.common import LayerHeader, Line


@dataclass
class KernelFrame:
    """A kernel being written: ``name`` (of its launch), ``kind`` (its stage template's
    stage), ``title`` (object names and numbers only, never free user text: it goes into
    a docstring), pointer arguments (argument -> ``"S:key"`` state, ``"A:key"`` static
    array or ``"M:key"`` monitor buffer), int size arguments (argument -> value) and, for
    a kernel whose numbers are arguments, the values of its constants ``c0_``, ``c1_``,
    ... (``None``: numbers stay literals)."""

    name: str
    kind: str
    title: str
    ptrs: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    consts: list[float] | None = None

    def ptr(self, arg: str, source: str) -> str:
        """Bind pointer argument ``arg`` to ``source``; returns ``arg``."""
        self.ptrs[arg] = source
        return arg

    def side(self, side: str, source: str) -> str:
        """The pointer argument for ``source``, a variable of the synapses' ``side``
        (``pre``/``post``) neurons, named by position (``post0_ptr_``, ...) so that
        kernels writing different variables the same way have the same text."""
        mine = [a for a in self.ptrs if re.fullmatch(rf"{side}\d+_ptr_", a)]
        for arg in mine:
            if self.ptrs[arg] == source:
                return arg
        return self.ptr(f"{side}{len(mine)}_ptr_", source)

    def size(self, arg: str, value: int) -> str:
        """Bind int argument ``arg`` (a size, a loop bound) to ``value``; returns ``arg``."""
        self.sizes[arg] = int(value)
        return arg

    @property
    def args(self) -> list[str]:
        """The kernel's pointer arguments, then its size arguments (launch order)."""
        return [*self.ptrs, *self.sizes]


@dataclass(frozen=True)
class Load:
    """A variable held in a kernel local: ``local = tl.load(ptr + lane)``."""

    local: str
    ptr: str


@dataclass(frozen=True)
class SpikeOutput:
    """Spikes into the history ring of ``L`` steps (``L``: a number, or the name of the
    kernel's size argument holding it) and, if ``raster``, the monitors' raster."""

    L: str
    raster: bool


@dataclass(frozen=True)
class StateValue:
    """One recorded value: stored through ``ptr``, computed by ``expr``."""

    ptr: str
    expr: str


@dataclass(frozen=True)
class StateMonitor:
    """A state monitor recording ``variables`` of ``R`` neurons (``BR``: times the
    batch) at the start of the step."""

    name: str
    variables: tuple[str, ...]
    R: int
    BR: int
    slot_ptr: str
    records: tuple[StateValue, ...]


@dataclass(frozen=True)
class PopulationContext:
    """``population.j2``: the fused kernel of a neuron population."""

    t: str
    loads: list[Load]
    recorders: list[StateMonitor]
    model: str
    method: str | None
    equations: list[str]
    subexpressions: list[str]
    update: list[Line]
    threshold_text: str | None
    threshold_cond: str | None
    spike_out: SpikeOutput | None
    reset: list[Line]
    stores: list[Load]


@dataclass(frozen=True)
class RecordStateContext:
    """``record_state.j2``: state monitors at the start of the step."""

    t: str
    loads: list[Load]
    recorders: list[StateMonitor]


@dataclass(frozen=True)
class ResetContext:
    """``reset.j2``: a reset after the synaptic pathways (``L``: the history argument)."""

    t: str
    L: str
    loads: list[Load]
    reset: list[Line]
    stores: list[Load]


@dataclass(frozen=True)
class ThresholdPoissonContext:
    """``threshold_poisson.j2``: Poisson spikes with rates ``rates``."""

    t: str
    rates_text: str
    stream: int
    rates: str
    dt: str
    spike_out: SpikeOutput


@dataclass(frozen=True)
class DrawInputContext:
    """``draw_input.j2``: a Poisson input adds ``weight * X`` to the variable behind
    ``target_ptr_`` (``X`` drawn from Philox stream ``stream``, one lane per neuron and
    batch entry). ``method`` ``"inversion"``: ``X`` counts the ``k < bound`` with ``u >=
    P(Y <= k)``, ``Y ~ Binomial(n, q)`` from ``P(Y = 0) = p0`` and ``P(k + 1) = P(k) (n - k)
    / (k + 1) * ratio`` (``flip``: ``q = 1 - p`` and ``X = n - Y``); ``"normal"``: ``X =
    round(mean + sd * z)`` clipped to ``[0, n]``. Numbers are printed literals.
    ``sliced``: the input reaches a slice of the population, ``size`` neurons from
    ``start_`` of ``pop_n_`` (size arguments): lane ``l`` is neuron ``start_ + l % size``
    of batch entry ``l // size``."""

    text: str
    comment: str
    stream: int
    method: str
    sliced: bool
    n: str
    bound: int
    p0: str
    ratio: str
    flip: bool
    mean: str
    sd: str
    weight: str


@dataclass(frozen=True)
class ThresholdGeneratorContext:
    """``threshold_generator.j2``: the spikes of a spike generator's table."""

    n_spikes: int
    n_steps: int
    spike_out: SpikeOutput


@dataclass(frozen=True)
class Gather:
    """A variable of each synapse's pre/post neuron: ``local = tl.load(ptr + index)``."""

    local: str
    ptr: str
    index: str


@dataclass(frozen=True)
class UpdateSynapsesContext:
    """``update_synapses.j2``: clock-driven synaptic equations, one lane per synapse
    (``n_pre``/``n_post``: the size arguments)."""

    n_pre: str
    n_post: str
    uses_pre: bool
    uses_post: bool
    uses_t: bool
    t: str
    loads: list[Load]
    gathers: list[Gather]
    update: list[Line]
    stores: list[Load]


@dataclass(frozen=True)
class PathwayContext:
    """``pathway.j2``: event-driven event code over the segments of the table by
    (source, delay) of the sources that spiked. The sizes are argument names (``fan``:
    the longest segment); ``uses_*``: what ``body`` needs from the frame (see
    :meth:`~snncc.backends.triton.codegen._Gen.event_uses`)."""

    n_src: str
    n_delays: str
    fan: str
    n_syn: str
    L: str
    n_pre: str
    n_post: str
    uses_sidx: bool
    uses_pre: bool
    uses_post: bool
    uses_zero: bool
    body: list[Line]


@dataclass(frozen=True)
class Accumulator:
    """A dense pathway's sum for one target variable, added through ``ptr``."""

    acc: str
    ptr: str


@dataclass(frozen=True)
class PathwayDenseContext:
    """``pathway_dense.j2``: ``on_pre`` as a spike-matmul (sizes: argument names)."""

    n_pre: str
    n_post: str
    n_syn: str
    delay: str
    L: str
    lanes_pre: str
    uses_t: bool
    uses_sidx: bool
    t: str
    body: list[Line]
    targets: list[Accumulator]


@dataclass(frozen=True)
class Function:
    """One ``@triton.jit`` function: ``name``, its stage ``kind``, the titles of the
    launches that use it, its arguments (pointers, then the ``sizes`` it is not
    specialized on), the number of constants it reads from ``consts_ptr_``, and its
    rendered ``body``."""

    name: str
    kind: str
    uses: list[str]
    args: list[str]
    sizes: list[str]
    n_consts: int
    body: str


@dataclass(frozen=True)
class Launch:
    """One launch of a kernel in ``step()``: the launch's ``name`` (prefix of its
    bindings), the jit ``function``, the bound ``args`` (tensors and ints), its
    ``consts`` (the literals of ``c0_``, ...; none for a kernel with literal numbers), the
    launch-size inputs of :func:`~snncc.backends.triton.launch.blocks` and the
    ``comments`` shown above it (what it computes, when its kernel is shared)."""

    name: str
    function: str
    phase: str
    lanes: int
    kind: str
    size: int
    groups: int
    fan: int
    per_thread: int
    args: list[str]
    consts: list[str] | None
    comments: list[str]


@dataclass(frozen=True)
class ModuleContext:
    """``network.py.j2``: the generated module."""

    dt_ms: str
    batch: int
    passes: str
    schedule: tuple[str, ...]
    functions: list[Function]
    launches: list[Launch]
    seed: int


# ------------------------------------------------------------------ layer.j2
@dataclass(frozen=True)
class LayerState:
    """A state variable of a layer kernel: its ``local``, the pointers of its initial
    value (``ptr``), its final value (``final``), the gradient with respect to the final
    value (``grad``) and that with respect to the initial value (``grad_init``)."""

    name: str
    local: str
    ptr: str
    final: str
    grad: str
    grad_init: str


@dataclass(frozen=True)
class LayerAux:
    """A bookkeeping state of a layer (refractoriness): initial and final pointers."""

    name: str
    local: str
    ptr: str
    final: str


@dataclass(frozen=True)
class LayerParam:
    """A tensor parameter of a layer: one value (``shared``) or one per neuron; the
    pointer of its per-lane gradient if ``trainable``."""

    name: str
    local: str
    ptr: str
    shared: bool
    trainable: bool
    grad: str


@dataclass(frozen=True)
class LayerSaved:
    """What the forward stores per step for the backward: ``code`` (its value) through
    ``ptr``, loaded back into ``local``; ``why`` it is saved."""

    name: str
    local: str
    ptr: str
    code: str
    why: str


@dataclass(frozen=True)
class LayerContext:
    """``layer.j2``: a multi-step layer's forward and backward kernels and their launch
    wrappers. ``header`` is :class:`~snncc.backends.common.LayerHeader`; ``fwd`` ends
    with the spikes ``_s_b``, ``reset`` commits the states, ``bwd`` ends with ``_g_in``
    and the ``_gn_<state>``; ``*_zero``: the body broadcasts a scalar with ``zero_``;
    ``*_per_thread``: elements per GPU thread of each kernel."""

    header: LayerHeader
    states: tuple[LayerState, ...]
    aux: tuple[LayerAux, ...]
    tensors: tuple[LayerParam, ...]
    saved: tuple[LayerSaved, ...]
    input_name: str
    input_local: str
    reads_input: bool
    fwd: tuple[Line, ...]
    reset: tuple[Line, ...]
    bwd: tuple[Line, ...]
    fwd_zero: bool
    bwd_zero: bool
    fwd_per_thread: int
    bwd_per_thread: int

    @property
    def trainable(self) -> tuple[LayerParam, ...]:
        """The trainable tensor parameters (their gradients are kernel outputs)."""
        return tuple(p for p in self.tensors if p.trainable)
