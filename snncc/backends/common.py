"""What every code generator shares: what it hands the runtime (:class:`Generated`, with
the :class:`StateSpec` of each state tensor it owns), and what it needs from an IR program,
computed in one place: the step count of time-based refractoriness, and synapse tables
grouped by source neuron."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from snncc.errors import BackendError
from snncc.ir import program as ir
from snncc.ir.layer import LayerStep, h


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


def layered_order(program: ir.Program) -> list[str]:
    """The population order of a ``"layered"`` program (fixed by the ``schedule`` pass)."""
    order = list(program.order)
    if sorted(order) != sorted(program.populations):
        raise BackendError("a 'layered' program needs its population order: run "
                           "snncc.passes.run_passes (or snncc.passes.schedule) first")
    return order


def after_reset(program: ir.Program, pr: ir.Projection) -> bool:
    """Whether ``pr``'s event pathways run after its population's reset: under the
    ``"layered"`` schedule a self-projection acts from the next step on, as every other
    recurrent projection does (see :mod:`snncc.passes.schedule`)."""
    return program.schedule == "layered" and pr.pre == pr.post


def slot_pathways(program: ir.Program, name: str
                  ) -> tuple[list[tuple[ir.Projection, str]], list[tuple[ir.Projection, str]]]:
    """The event pathways of population ``name``'s ``"layered"`` slot as (projection,
    ``"on_pre"``/``"on_post"``): those before its reset (its outgoing on_pre, then the
    on_post of the projections into it) and those after (its self-projections')."""
    prs = list(program.projections.values())
    before = [(pr, "on_pre") for pr in prs if pr.pre == name and not after_reset(program, pr)]
    before += [(pr, "on_post") for pr in prs
               if pr.post == name and not after_reset(program, pr)]
    after = [(pr, d) for pr in prs if pr.pre == pr.post == name and after_reset(program, pr)
             for d in ("on_pre", "on_post")]
    return before, after


def layer_reason(program: ir.Program, name: str) -> str:
    """Why population ``name`` steps where it does in a ``"layered"`` program."""
    inputs = dict.fromkeys(pr.pre for pr in program.projections.values()
                           if pr.post == name and pr.on_pre and pr.pre != name
                           and pr.name not in program.late)
    if inputs:
        return "after its input" + ("s " if len(inputs) > 1 else " ") + ", ".join(inputs)
    return "no input from a population stepped before it"


def schedule_notes(program: ir.Program) -> list[str]:
    """Comment lines for generated code: which schedule, and why the order is what it is."""
    if program.schedule != "layered":
        return ["schedule: brian2 -- all state updates, all thresholds, all synaptic",
                "pathways (on_pre, then on_post), all resets: a spike is delivered in its",
                "step and the target's threshold sees it in the next step."]
    lines = ["schedule: layered -- one population at a time, in the order",
             "  " + " -> ".join(layered_order(program)),
             "each one's state update (then the clock-driven equations of the projections",
             "into it), threshold, outgoing on_pre pathways, the on_post pathways of the",
             "projections into it, and reset (then its self-projections' pathways), before",
             "the next population steps. The order is topological along the zero-delay",
             "projections (then the delayed ones), so a population steps after those that",
             "drive it without delay and a spike crosses every layer within its step; a",
             "delay of d steps is d steps."]
    late = list(program.late)
    if late:
        lines.append("Into a population already stepped (recurrent / back edges), so one step")
        lines.append("later than their delay: " + ", ".join(late) + ".")
    return lines


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


def layer_aux(step: LayerStep) -> dict[str, float]:
    """The bookkeeping states of a layer step and their initial values: ``_since``
    (steps since the last spike, saturating at the refractory period) or ``_notref``
    (1.0 while a refractory condition has released the neuron)."""
    if step.refractory_steps is not None:
        return {"_since": float(step.refractory_steps)}
    if step.refractory_condition is not None:
        return {"_notref": 1.0}
    return {}


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
    names.update({"_nr": "_nrf", "_sg": "_sg", "_s": "_s", "_g_s": "_g_s"})
    for v in step.saved:
        names.setdefault(v.name, local(v.name))
    return names


def layer_header(step: LayerStep) -> dict[str, object]:
    """What every layer template shows in its header: model, integrator, equations,
    threshold, reset, surrogate and the save/recompute plan."""
    return {"model_name": step.model_name, "method_used": step.method_used,
            "dt": f"{step.dt:g}",
            "equations": [ln.strip() for ln in step.equations_text.strip().splitlines()
                          if ln.strip()],
            "threshold_text": step.threshold_text, "reset_text": step.reset_text,
            "surrogate": step.surrogate, "alpha": f"{step.alpha:g}",
            "detach_reset": step.detach_reset, "plan": step.plan}
