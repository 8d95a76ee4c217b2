"""What every code generator shares: what it hands the runtime (:class:`Generated`, with
the :class:`StateSpec` of each state tensor it owns), and what it needs from an IR program,
computed in one place: the step count of time-based refractoriness, and synapse tables
grouped by source neuron."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
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
