"""plan: the ordered stages of one step (``Program.plan``, see :mod:`snncc.ir.plan`).

The last pass. It fixes everything about a step that does not depend on the target:

* the order of the stages under both schedules. ``"brian2"``: every state monitor
  (values at the start of the step), every state update, every clock-driven synaptic
  update, every threshold, every spike monitor, every Poisson input, every ``on_pre``
  pathway, every ``on_post`` pathway, every reset. ``"layered"``: every state monitor,
  then one population at a time in ``Program.order`` (the ``schedule`` pass): its state
  update, the clock-driven equations of the projections into it, its threshold and spike
  monitors, its Poisson inputs, its outgoing ``on_pre`` pathways and the ``on_post``
  pathways of the projections into it, its reset, then the pathways of its
  self-projections (which so act from the next step on, as every other recurrent
  projection does);
* each pathway's delays (the distinct values, in steps), its dense/sparse choice, and
  the spike history every population must keep;
* whether a reset may be fused with its population's update and threshold (no
  synaptic code run in between reads or writes what the reset changes);
* the kernels of backends that launch kernels: one per population (its state
  monitors, update, threshold, spike recording and fused reset), one per clock-driven
  projection, per Poisson input, per pathway and per unfused reset, in launch order --
  under ``"brian2"`` the population kernels first, then the synaptic, input, pathway and
  reset kernels; under ``"layered"`` the stages' own order, with the state monitors of
  a population that synaptic code changes before its own kernel runs in a kernel of
  their own, first.
"""

from __future__ import annotations

import numpy as np
import sympy

from snncc.errors import BackendError
from snncc.ir import plan as st
from snncc.ir import program as ir
from snncc.ir.functions import is_random
from snncc.ir.statements import names_in

DENSE_MIN_DENSITY = 0.25  # fraction of all pairs above which on_pre may be a spike-matmul


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


def layer_reason(program: ir.Program, name: str) -> str:
    """Why population ``name`` steps where it does in a ``"layered"`` program."""
    inputs = dict.fromkeys(pr.pre for pr in program.projections.values()
                           if pr.post == name and pr.on_pre and pr.pre != name
                           and pr.name not in program.late)
    if inputs:
        return "after its input" + ("s " if len(inputs) > 1 else " ") + ", ".join(inputs)
    return "no input from a population stepped before it"


def schedule_notes(program: ir.Program) -> tuple[str, ...]:
    """Comment lines for generated code: which schedule, and why the order is what it is."""
    if program.schedule != "layered":
        return ("schedule: brian2 -- all state updates, all thresholds, all synaptic",
                "pathways (on_pre, then on_post), all resets: a spike is delivered in its",
                "step and the target's threshold sees it in the next step.")
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
    return tuple(lines)


def dense(program: ir.Program, pr: ir.Projection) -> bool:
    """Whether ``on_pre`` may be a spike-matmul: the connectivity is dense (at least
    DENSE_MIN_DENSITY of all pairs, each pair once), the delay is homogeneous, and every
    statement adds to a postsynaptic variable a value that reads no neuron variable and
    writes nothing else (the classic ``ge += w``)."""
    n_pre = program.populations[pr.pre].size
    n_post = program.populations[pr.post].size
    S = pr.n_synapses
    if pr.update or np.unique(pr.delay).size != 1 or S < DENSE_MIN_DENSITY * n_pre * n_post:
        return False
    for s in pr.on_pre:
        if s.op not in ("+=", "-=") or not s.target.endswith("_post") \
                or s.target in pr.variables:
            return False
        if any(sy.name.endswith(("_pre", "_post")) for sy in s.expr.free_symbols):
            return False
    pairs = pr.i.astype(np.int64) * n_post + pr.j.astype(np.int64)
    return bool(np.unique(pairs).size == S)


RING_MAX_SLOTS_PER_SYNAPSE = 8  # a ring may hold this many values per synapse (or 2**20)


def delivery(pr: ir.Projection, delays: tuple[int, ...], n_post: int) -> str:
    """How ``on_pre`` spikes with ``delays`` reach their ``n_post`` targets (see
    :class:`~snncc.ir.plan.Pathway`): ``"direct"`` for one delay; ``"ring"`` where every
    statement adds to a postsynaptic variable a value fixed per synapse (numbers and
    synapse variables that no code of the projection writes: no neuron variable, time,
    index or random draw), so it may be added when the spike is sent, and the ring
    (``max delay + 1`` values per target) is not much larger than the synapses; else
    ``"queue"``."""
    if len(delays) == 1:
        return "direct"
    if (delays[-1] + 1) * n_post > max(RING_MAX_SLOTS_PER_SYNAPSE * pr.n_synapses, 1 << 20):
        return "queue"
    written = {s.target for s in [*pr.on_pre, *pr.on_post, *pr.update]}
    fixed = set(pr.variables) - written - {"lastupdate"}
    for s in pr.on_pre:
        if s.op not in ("+=", "-=") or not s.target.endswith("_post") \
                or is_random(s.expr) \
                or any(sy.name not in fixed for sy in s.expr.free_symbols):
            return "queue"
    return "ring"


def _touched(program: ir.Program) -> dict[str, set[str]]:
    """Variables of each population that synaptic code run between its threshold and its
    reset reads or writes: under Brian2's order all synaptic code (every pathway and
    clock-driven update runs between the thresholds and the resets); under the layered
    order the code run in the population's own slot (the clock-driven equations and
    on_post of the projections into it, its outgoing on_pre; the pathways of its
    self-projections run after its reset)."""
    touched: dict[str, set[str]] = {p: set() for p in program.populations}
    layered = program.schedule == "layered"
    for pr in program.projections.values():
        events = [] if after_reset(program, pr) else [(pr.on_pre, pr.pre),
                                                      (pr.on_post, pr.post)]
        for code, slot in (*events, (pr.clock_update, pr.post)):
            for n in names_in(code):
                owner, var = ((pr.pre, n[:-4]) if n.endswith("_pre") else
                              (pr.post, n[:-5]) if n.endswith("_post") else (None, n))
                if owner is not None and (not layered or owner == slot):
                    touched[owner].add(var)
    return touched


def ring_signature(program: ir.Program, stage: st.Pathway) -> tuple | None:
    """What ring pathways must share to be merged into one stage (same source and target
    population, same lateness, the same statements on synapse variables of the same
    names and types), or None where ``stage`` is not a ring pathway of a batch of one."""
    if stage.delivery != "ring" or stage.direction != "on_pre" or program.batch != 1:
        return None
    pr = program.projections[stage.projection]
    reads = sorted({sy.name for s in pr.on_pre for sy in s.expr.free_symbols}
                   & set(pr.variables))
    return (stage.source, pr.post, stage.late,
            tuple((s.target, s.op, sympy.srepr(s.expr)) for s in pr.on_pre),
            tuple((v, pr.variables[v].dtype) for v in reads))


class _Planner:
    def __init__(self, program: ir.Program) -> None:
        self.p = program
        self.shared: list[st.SharedStorage] = []
        self.history = {pop.name: 1 for pop in program.populations.values() if pop.has_spikes}
        for pr in program.projections.values():
            if pr.on_pre:
                self.history[pr.pre] = max(self.history[pr.pre], int(pr.delay.max()) + 1)
        self.touched = _touched(program)
        for inp in program.inputs.values():  # a Poisson input runs in the synaptic slot
            self.touched[inp.target].add(inp.variable)

    # ------------------------------------------------------------ stages
    def update(self, pop: ir.Population) -> list[st.Stage]:
        has = pop.kind == "neuron" and (pop.update or pop.refractory is not None)
        return [st.UpdateState(pop.name)] if has else []

    def synapses(self, pr: ir.Projection) -> list[st.Stage]:
        return [st.UpdateSynapses(pr.name)] if pr.clock_update else []

    def threshold(self, pop: ir.Population) -> list[st.Stage]:
        if not pop.has_spikes:
            return []
        return [st.Threshold(pop.name, self.history[pop.name])]

    def record_state(self, pop: str | None = None) -> list[st.Stage]:
        return [st.RecordState(m.name, m.target) for m in self.p.monitors.values()
                if m.kind == "state" and (pop is None or m.target == pop)]

    def record_spikes(self, pop: str | None = None) -> list[st.Stage]:
        return [st.RecordSpikes(m.name, m.target) for m in self.p.monitors.values()
                if m.kind != "state" and (pop is None or m.target == pop)]

    def pathway(self, pr: ir.Projection, direction: str) -> list[st.Stage]:
        code = pr.on_pre if direction == "on_pre" else pr.on_post
        if not code or pr.n_synapses == 0:  # no synapse: nothing to deliver
            return []
        pre = direction == "on_pre"
        delays = tuple(int(d) for d in np.unique(pr.delay)) if pre else (0,)
        return [st.Pathway(pr.name, direction, pr.pre if pre else pr.post, delays,
                           dense=pre and dense(self.p, pr),
                           late=pre and pr.name in self.p.late,
                           delivery=delivery(pr, delays,
                                             self.p.populations[pr.post].size))]

    def merge_rings(self, stages: list[st.Stage]) -> list[st.Stage]:
        """``stages`` with each run of adjacent ring pathways of the same
        :func:`ring_signature` merged into one stage (one table by source over all
        their synapses, one ring per target variable: a spike costs the same few
        operations however many projections it feeds); the synapse variables they read
        go into shared storage, each projection's a slice."""
        out: list[st.Stage] = []
        run: list[st.Pathway] = []  # the ring pathways that out[-1] delivers
        run_sig = None
        for s in stages:
            sig = ring_signature(self.p, s) if isinstance(s, st.Pathway) else None
            if sig is not None and run and sig == run_sig:
                run.append(s)
                first = run[0]
                out[-1] = st.Pathway(first.projection, first.direction, first.source,
                                     tuple(sorted({d for m in run for d in m.delays})),
                                     late=first.late, delivery="ring", members=tuple(run))
                continue
            out.append(s)
            run, run_sig = ([s], sig) if sig is not None else ([], None)
        for s in out:
            if isinstance(s, st.Pathway) and s.members:
                for v, _ in ring_signature(self.p, s)[-1]:
                    self.shared.append(st.SharedStorage(f"{s.projection}.{v}:shared", v,
                                                        s.projections))
        return out

    def inputs(self, pop: str | None = None) -> list[st.Stage]:
        """The Poisson inputs (into ``pop``, or all); adjacent exact inputs (``p <= 1/2``)
        into disjoint slices of the same variable merged into one stage."""
        out: list[st.Stage] = []
        run: list[ir.PoissonInput] = []  # the mergeable inputs of out[-1]
        for inp in self.p.inputs.values():
            if pop is not None and inp.target != pop:
                continue
            mergeable = inp.method == "inversion" and not inp.flipped
            size = self.p.populations[inp.target].size
            a, b = inp.span(size)
            if mergeable and run and (run[0].target, run[0].variable) == (
                    inp.target, inp.variable) and all(
                        b <= m.span(size)[0] or m.span(size)[1] <= a for m in run):
                run.append(inp)
                out[-1] = st.DrawInput(run[0].name, inp.target, tuple(m.name for m in run))
                continue
            out.append(st.DrawInput(inp.name, inp.target))
            run = [inp] if mergeable else []
        return out

    def reset(self, pop: ir.Population) -> list[st.Stage]:
        if pop.kind != "neuron" or pop.threshold is None or not (
                pop.reset or "lastspike" in pop.variables
                or "not_refractory" in pop.variables):
            return []
        changes = names_in(pop.reset) | {"lastspike", "not_refractory"}
        return [st.Reset(pop.name, fused=not (changes & self.touched[pop.name]))]

    def slot_pathways(self, name: str) -> tuple[list[st.Stage], list[st.Stage]]:
        """The pathways of population ``name``'s layered slot: before its reset (its
        outgoing on_pre, then the on_post of the projections into it) and after (its
        self-projections')."""
        p = self.p
        prs = list(p.projections.values())
        before = [s for pr in prs if pr.pre == name and not after_reset(p, pr)
                  for s in self.pathway(pr, "on_pre")]
        before = self.merge_rings(before)
        before += [s for pr in prs if pr.post == name and not after_reset(p, pr)
                   for s in self.pathway(pr, "on_post")]
        after = self.merge_rings([s for pr in prs if pr.pre == pr.post == name
                                  and after_reset(p, pr)
                                  for d in ("on_pre", "on_post") for s in self.pathway(pr, d)])
        return before, after

    # ------------------------------------------------------------ schedules
    def brian2(self) -> tuple[list[st.Stage], list[st.Kernel]]:
        p = self.p
        pops = list(p.populations.values())
        prs = list(p.projections.values())
        stages: list[st.Stage] = self.record_state()
        for pop in pops:
            stages += self.update(pop)
        for pr in prs:
            stages += self.synapses(pr)
        for pop in pops:
            stages += self.threshold(pop)
        stages += self.record_spikes()
        stages += self.inputs()
        stages += self.merge_rings([s for pr in prs for s in self.pathway(pr, "on_pre")])
        for pr in prs:
            stages += self.pathway(pr, "on_post")
        for pop in pops:
            stages += self.reset(pop)
        kernels = [k for pop in pops for k in self.population_kernel(pop, record=True)]
        kernels += [st.Kernel("synapses", s.projection, (s,)) for s in stages
                    if isinstance(s, st.UpdateSynapses)]
        kernels += [st.Kernel("input", s.population, (s,)) for s in stages
                    if isinstance(s, st.DrawInput)]
        kernels += [st.Kernel("pathway", s.projection, (s,)) for s in stages
                    if isinstance(s, st.Pathway)]
        kernels += [st.Kernel("reset", s.population, (s,)) for s in stages
                    if isinstance(s, st.Reset) and not s.fused]
        return stages, kernels

    def layered(self) -> tuple[list[st.Stage], list[st.Kernel]]:
        p = self.p
        prs = list(p.projections.values())
        order = layered_order(p)
        stages: list[st.Stage] = self.record_state()
        kernels: list[st.Kernel] = []
        apart = self.recorded_apart(order)
        for name in order:
            recs = tuple(self.record_state(name))
            if name in apart and recs:
                kernels.append(st.Kernel("record", name, recs, note="" if kernels else (
                    "state monitors of populations that synaptic kernels change before "
                    "their own kernel runs")))
        for k, name in enumerate(order):
            pop = p.populations[name]
            slot = st.Slot(k + 1, len(order), name, layer_reason(p, name))
            stages.append(slot)
            own = self.update(pop)
            syn = [s for pr in prs if pr.post == name for s in self.synapses(pr)]
            spikes = self.threshold(pop) + self.record_spikes(name)
            inputs = self.inputs(name)
            before, after = self.slot_pathways(name)
            reset = self.reset(pop)
            stages += own + syn + spikes + inputs + before + reset + after
            slot_kernels = self.population_kernel(pop, record=name not in apart)
            slot_kernels += [st.Kernel("synapses", s.projection, (s,)) for s in syn]
            slot_kernels += [st.Kernel("input", s.population, (s,)) for s in inputs]
            slot_kernels += [st.Kernel("pathway", s.projection, (s,)) for s in before]
            slot_kernels += [st.Kernel("reset", s.population, (s,)) for s in reset
                             if isinstance(s, st.Reset) and not s.fused]
            slot_kernels += [st.Kernel("pathway", s.projection, (s,)) for s in after]
            if slot_kernels:
                first = slot_kernels[0]
                slot_kernels[0] = st.Kernel(first.kind, first.owner, first.stages,
                                            f"{slot.index}/{slot.count}: {name} "
                                            f"({slot.reason})")
            kernels += slot_kernels
        return stages, kernels

    def recorded_apart(self, order: list[str]) -> set[str]:
        """Neuron populations whose variables synaptic code of a slot before their own
        changes: their state monitors record in a kernel of their own, first."""
        p = self.p
        early_writes: set[str] = set()
        apart: set[str] = set()
        for name in order:
            pop = p.populations[name]
            if pop.kind == "neuron" and name in early_writes and self.record_state(name):
                apart.add(name)
            for pr in p.projections.values():
                for direction, code in (("on_pre", pr.on_pre), ("on_post", pr.on_post)):
                    if (pr.pre if direction == "on_pre" else pr.post) != name:
                        continue
                    for s in code:
                        if s.target in pr.variables:
                            continue
                        if s.target.endswith("_post"):
                            early_writes.add(pr.post)
                        elif s.target.endswith("_pre"):
                            early_writes.add(pr.pre)
        return apart

    def population_kernel(self, pop: ir.Population, record: bool) -> list[st.Kernel]:
        """The kernel of a population: a spike source's, or a neuron population's (its
        state monitors if ``record``, update, threshold, spike monitors, fused reset)
        unless it has nothing to do."""
        spikes = self.threshold(pop) + self.record_spikes(pop.name)
        if pop.kind != "neuron":
            return [st.Kernel("population", pop.name, tuple(spikes))]
        monitored = any(m.target == pop.name for m in self.p.monitors.values())
        if not (pop.update or pop.threshold is not None or pop.refractory is not None
                or monitored):
            return []
        recs = self.record_state(pop.name) if record else []
        reset = [s for s in self.reset(pop) if isinstance(s, st.Reset) and s.fused]
        return [st.Kernel("population", pop.name, tuple(recs + self.update(pop) + spikes + reset))]


def plan(program: ir.Program) -> ir.Program:
    """The program with its stage plan (``Program.plan``)."""
    planner = _Planner(program)
    stages, kernels = (planner.layered() if program.schedule == "layered"
                       else planner.brian2())
    result = st.StagePlan(program.schedule, tuple(stages), tuple(kernels),
                          schedule_notes(program), tuple(planner.shared))
    return program.with_(plan=result, passes=[*program.passes, "plan"])
