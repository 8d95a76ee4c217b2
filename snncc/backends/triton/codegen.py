"""Triton code generation: IR program -> Python source of Triton kernels and a ``step()``.

One fused kernel per neuron population does, per neuron and in registers: the state
monitors' recording (values at the start of the step), refractoriness, the state update,
the threshold, the spike output (into the population's spike history, a ring buffer of
``max delay + 1`` steps, and the monitors' raster) and -- where no synapse reads or
writes what it changes -- the reset. Spike sources (Poisson, generators) get one kernel
each. A projection with clock-driven equations gets one elementwise kernel over its
synapses, run after the population kernels (Brian2's "groups" slot, neurons first).
Each synaptic pathway (``on_pre`` / ``on_post`` of a projection) is one event-driven
kernel over the source neurons and all delay groups at once: blocks without a spike do
nothing; for a spiking neuron its row of the synapse table (ELL) is loaded and the
pathway's statements run per synapse, with atomic adds on the target side.
Resets that synapses could observe run after the pathways, as in Brian2. A Poisson input
(``Program.inputs``) is one kernel over its target's neurons, drawing its binomial count
from its own Philox stream (``draw_input.j2``), after the thresholds.

Which kernels there are, what each fuses and their launch order are the stage plan's
(``StagePlan.kernels``, :mod:`snncc.passes.plan`): under Brian2's schedule all population
kernels, clock-driven kernels, on_pre, on_post, deferred resets; under
``schedule="layered"`` the same kernels one population at a time.

Kernel reuse: kernels whose text is the same compile once. Synaptic kernels (pathway,
dense pathway, clock-driven update) and deferred resets are written so that two uses
differing only in sizes and constants have the same text: their pointer arguments are
named by role and position (``post0_ptr_``: the first postsynaptic variable the code
writes or reads), never by user variable; the sizes they depend on (neurons, synapses,
row length, history length, delay) are plain int arguments (not specialized); every
non-integer number of their statements (outside the float64 time ``t``) is a constant
``c<k>_`` read from a per-launch tensor of the kernel's dtype ``DT`` (exact in float64,
unlike a float kernel argument). What sets a tile shape (``BLOCK``, ``BLOCK_F``, ``DT``)
stays constexpr; integers in statements (refractory periods in steps, exponents) and
random-draw streams stay in the text. Their equation comments are shown at each launch
in ``step()``, and a shared function's docstring lists its uses. A population kernel
takes its numbers as constants (and its history length as a size argument) only where
another population's kernel, so written, has the same text (the same model with other
parameter values, sizes or delays); otherwise, and in spike sources, numbers stay
literals the compiler can fold. Population kernels keep their comments inline (the
model's, the same for every use).

Expressions are printed by :class:`~snncc.backends.triton.printer.TritonPrinter`; each
stage is rendered from ``templates/triton/<stage>.j2`` with its typed context
(:mod:`snncc.backends.triton.contexts`); nothing here parses or patches text. Kernels
read the step counter from device memory, so the host only launches and a CUDA graph can
replay a block of steps.
"""

from __future__ import annotations

import builtins
import keyword
import math
from dataclasses import replace

import numpy as np
import sympy

from snncc.backends.common import (
    Generated,
    Line,
    Recorder,
    StateSpec,
    delay_table,
    inversion_bound,
    stage_plan,
)
from snncc.backends.printing import py_float
from snncc.backends.templating import render
from snncc.backends.triton import contexts as cx
from snncc.backends.triton.contexts import KernelFrame, Load
from snncc.backends.triton.printer import TritonPrinter
from snncc.errors import BackendError
from snncc.ir import plan
from snncc.ir import program as ir
from snncc.ir.functions import rand, randn
from snncc.ir.statements import Statement, names_in

# Names in a generated kernel, in four namespaces that cannot meet: the user's variables
# (never starting with "_"; renamed by _local where they would shadow an argument, a
# module or a builtin, or end with "_"), the IR's temporaries (starting with "_"), the
# kernel's own locals (ending with "_", e.g. step_, offs_, spk_) and pointers (ending
# with "_ptr_": <var>_var_ptr_ for the owner's variables, <side><k>_ptr_ for the k-th
# variable of a synapse's pre/post neurons, <monitor>_slot_ptr_ and <monitor>_rec<k>_ptr_
# for the k-th variable a state monitor records, and fixed ones: hist_ptr_, syn_ptr_,
# consts_ptr_, ...), and size arguments and constants (ending with "_": n_src_, c0_, ...).
# Each pattern ends differently, so no user name makes two pointers one (a variable
# "hist" has hist_var_ptr_, not the spike history's hist_ptr_).
_KERNEL_NAMES = frozenset({"seed", "lanes", "size", "step_ptr", "step_off", "DT", "BLOCK",
                           "BLOCK_F", "tl", "triton", "torch", "_m", "_r"}
                          | set(dir(builtins)) | set(keyword.kwlist))


def _local(name: str) -> str:
    """The kernel local holding the user variable ``name``."""
    return f"{name}__v" if name in _KERNEL_NAMES or name.endswith("_") else name


def _ptr(name: str) -> str:
    """The kernel argument pointing at the owner's variable ``name``."""
    return f"{name}_var_ptr_"


def _sym(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, real=True)


class _ConstPrinter(TritonPrinter):
    """A :class:`TritonPrinter` for kernels whose numbers are arguments: each number it
    prints (outside a float64 expression of ``t``) is the next constant ``c<k>_`` of the
    kernel, its value appended to ``consts``; integers stay literals."""

    def __init__(self, names: dict[str, str], draw: object, streams: list[int],
                 consts: list[float]) -> None:
        super().__init__(names, draw, streams)  # type: ignore[arg-type]
        self.consts = consts

    def _number(self, x: float) -> str:
        if self._in_time:
            return super()._number(x)
        self.consts.append(float(x))
        return f"c{len(self.consts) - 1}_"

    def _default_branch(self, expr: sympy.Basic) -> str:
        if expr.is_number and not expr.is_Integer and not self._in_time:
            return self._print(expr)  # a constant: already a value of dtype DT
        return super()._default_branch(expr)


def _per_thread(ops: int) -> int:
    """Elements of an event-driven kernel's tile per GPU thread (``launch.blocks``) for
    ``ops`` loads, stores, atomic adds and draws (four each) per synapse: fewer where
    each synapse does more (each such value is live per element; 4 per thread keeps
    triplet STDP at about 100 registers in float32)."""
    return 16 if ops <= 3 else 8 if ops <= 8 else 4


class _Gen:
    def __init__(self, program: ir.Program) -> None:
        self.p = program
        self.out = Generated("")
        self.B = program.batch
        self.streams = [0]
        self.functions: list[cx.Function] = []
        self.function_of: dict[tuple, int] = {}  # kernel text -> index in functions
        self.launches: list[tuple[int, cx.Launch]] = []  # (function index, launch)
        self.plan = stage_plan(program)
        # spike history length of each population (the plan's)
        self.hist_len = self.plan.history
        self.rastered = {m.target for m in program.monitors.values()
                         if m.kind in ("spike", "rate")}
        # population -> its kernel with numbers as arguments (see shared_populations)
        self.shared_pops: dict[str, tuple[KernelFrame, cx.PopulationContext]] = {}

    # ------------------------------------------------------------ helpers
    def lanes(self, pop: ir.Population) -> int:
        return self.B * pop.size

    def draw(self, lane: str, lanes: str) -> object:
        def fn(stream: int, kind: str) -> str:
            f = "uniform" if kind == "rand" else "normal"
            return f"_r.{f}(seed, {stream}, step_, {lane}, {lanes}).to(DT)"
        return fn

    def time(self, scale: float) -> str:
        """The time ``t`` in a kernel: float64, exact (``step * dt`` as the torch backend
        computes it) whatever the kernel's dtype and however many steps have run."""
        return f"step_.to(tl.float64) * {self.p.dt * scale!r}"

    def pop_printer(self, pop: ir.Population, consts: list[float] | None = None
                    ) -> TritonPrinter:
        """The printer of ``pop``'s statements (numbers as constants into ``consts``)."""
        names = {v: _local(v) for v in pop.variables}
        names.update({"_n": "step_", "t": "t_", "i": "i_"})
        return self.printer(names, self.draw("offs_", "lanes"), consts)

    def printer(self, names: dict[str, str], draw: object, consts: list[float] | None
                ) -> TritonPrinter:
        """A printer with numbers as literals, or as constants into ``consts``."""
        if consts is None:
            return TritonPrinter(names, draw, self.streams)  # type: ignore[arg-type]
        return _ConstPrinter(names, draw, self.streams, consts)

    def synapse_indices(self, k: KernelFrame, pr: ir.Projection, pre: bool, post: bool
                        ) -> None:
        """Give kernel ``k`` the pre (``i_ptr_``) and/or post (``j_ptr_``) neuron index of
        each synapse of ``pr``."""
        if pre:
            self.out.arrays[f"{pr.name}.i"] = pr.i.astype(np.int64)
            k.ptr("i_ptr_", f"A:{pr.name}.i")
        if post:
            self.out.arrays[f"{pr.name}.j"] = pr.j.astype(np.int64)
            k.ptr("j_ptr_", f"A:{pr.name}.j")

    def variables(self, k: KernelFrame, owner: str, names: list[str]) -> list[Load]:
        """Pointer arguments for ``owner``'s variables ``names``, with their locals."""
        return [Load(_local(v), k.ptr(_ptr(v), f"S:{owner}.{v}")) for v in names]

    def spike_output(self, k: KernelFrame, pop: ir.Population) -> cx.SpikeOutput:
        """Bind the spike history (and raster) of ``pop``; its length is a size argument
        of a kernel whose numbers are arguments, else a literal."""
        L = self.hist_len[pop.name]
        self.out.state[f"{pop.name}._spike_history"] = StateSpec((L, self.lanes(pop)), "int8")
        k.ptr("hist_ptr_", f"S:{pop.name}._spike_history")
        raster = pop.name in self.rastered
        if raster:
            key = f"{pop.name}.raster"
            self.out.recorders[key] = Recorder(key, "raster", self.lanes(pop), "int8")
            k.ptr("raster_ptr_", f"M:{key}")
            k.ptr("base_ptr_", "M:_base")
        length = str(L) if k.consts is None else k.size("hist_len_", L)
        return cx.SpikeOutput(length, raster)

    # ------------------------------------------------------------ neurons
    def neuron_kernel(self, pop: ir.Population, record: tuple[str, ...], reset: bool
                      ) -> None:
        """The fused kernel of ``pop``; ``record``: the state monitors that record here
        (others in :meth:`record_kernel`, launched at the start of the step); ``reset``: its reset
        too (else in :meth:`reset_kernel`, after the synapses). Its numbers are
        arguments if another population's kernel has the same text (see
        :meth:`shared_populations`)."""
        k, ctx = self.shared_pops.get(pop.name) or self.neuron_frame(pop, record, reset,
                                                                      None)
        self.add_kernel(k, "population.j2", ctx, pop, self.lanes(pop))

    def neuron_frame(self, pop: ir.Population, record: tuple[str, ...], reset: bool,
                     consts: list[float] | None) -> tuple[KernelFrame, cx.PopulationContext]:
        """The kernel of ``pop`` and its context, numbers as constants into ``consts``
        (``None``: literals)."""
        k = KernelFrame(f"{pop.name}_neurons", "population", f"{pop.name}: {pop.size} "
                        f"neurons, method {pop.method_used or '-'}", consts=consts)
        pr = self.pop_printer(pop, consts)
        loads = self.variables(k, pop.name, list(pop.variables))
        recorders = self.state_recorders(k, pop, pr, record)
        # state update: temporaries in order, the new values committed at the end
        state_vars = pop.updated_variables
        update, commits, written = [], [], []
        for st in pop.update:
            if st.target in state_vars:
                commits.append(st)
                continue
            pr.names[st.target] = st.target
            update.append(Line(f"{st.target} = {pr.doprint(st.expr)}",
                               "" if st.comment == "common subexpression" else st.comment))
        for st in commits:
            update.append(Line(f"{_local(st.target)} = {pr.doprint(st.expr)}", st.comment))
            written.append(st.target)
        cond, spike_out, reset_lines = None, None, []
        if pop.threshold is not None:
            cond = pr.doprint(pop.threshold)
            spike_out = self.spike_output(k, pop)
            if reset:
                reset_lines, more = self.reset_lines(pop, pr)
                written += more
        ctx = cx.PopulationContext(
            t=self.time(pop.time_scale), loads=loads, recorders=recorders,
            model=pop.model_name, method=pop.method_used,
            equations=[o.text for o in pop.odes] if pop.update else [],
            subexpressions=list(pop.subexpression_texts.values()) if pop.update else [],
            update=update, threshold_text=pop.threshold_text, threshold_cond=cond,
            spike_out=spike_out, reset=reset_lines, stores=_stores(loads, written))
        return k, ctx

    def shared_populations(self) -> dict[str, tuple[KernelFrame, cx.PopulationContext]]:
        """The populations whose kernels take their numbers as arguments, with those
        kernels: the ones that, so written, have the same text as another population's
        (the same model with other parameter values or sizes), so that they compile
        once. A kernel that draws random numbers keeps literals (each draw site has its
        own stream, so no two such kernels have the same text), as does one without a
        twin (its numbers stay visible to the compiler)."""
        twins: dict[tuple, list[tuple[str, KernelFrame, cx.PopulationContext]]] = {}
        streams = self.streams[0]
        for kernel in self.plan.kernels:
            pop = self.p.populations.get(kernel.owner)
            if kernel.kind != "population" or pop is None or pop.kind in ("poisson",
                                                                          "generator"):
                continue
            k, ctx = self.neuron_frame(pop, *self._fuses(kernel), [])
            if self.streams[0] != streams:  # it draws random numbers
                self.streams[0] = streams
                continue
            twins.setdefault(self._text_key(k, "population.j2", ctx), []).append(
                (pop.name, k, ctx))
        return {name: (k, ctx) for same in twins.values() if len(same) > 1
                for name, k, ctx in same}

    @staticmethod
    def _fuses(kernel: plan.Kernel) -> tuple[tuple[str, ...], bool]:
        """The state monitors a kernel records, and whether it does its population's
        reset."""
        return (tuple(s.monitor for s in kernel.stages if isinstance(s, plan.RecordState)),
                any(isinstance(s, plan.Reset) for s in kernel.stages))

    def record_kernel(self, pop: ir.Population, monitors: tuple[str, ...]) -> None:
        """The state ``monitors`` of ``pop`` as a kernel of their own, launched first in
        the step: under the layered schedule, synaptic kernels launched before ``pop``'s
        kernel change its variables, and monitors record the start of the step."""
        k = KernelFrame(f"{pop.name}_record", "record_state", f"{pop.name}: state monitors "
                        f"(values at the start of the step)")
        pr = self.pop_printer(pop)
        used: set[str] = set()
        for name in monitors:
            for v in self.p.monitors[name].variables:
                expr = pop.subexpressions.get(v, _sym(v))
                used |= {v} | {sy.name for sy in expr.free_symbols}
        loads = self.variables(k, pop.name, [v for v in pop.variables if v in used])
        ctx = cx.RecordStateContext(t=self.time(pop.time_scale), loads=loads,
                                    recorders=self.state_recorders(k, pop, pr, monitors))
        self.add_kernel(k, "record_state.j2", ctx, pop, self.lanes(pop), phase="record")

    def state_recorders(self, k: KernelFrame, pop: ir.Population, pr: TritonPrinter,
                        monitors: tuple[str, ...]) -> list[cx.StateMonitor]:
        """Bind the buffers of the state ``monitors`` of ``pop`` (the plan's
        :class:`~snncc.ir.plan.RecordState` stages of the kernel) and what each stores."""
        out = []
        for m in (self.p.monitors[name] for name in monitors):
            rec = m.record if m.record is not None else np.arange(pop.size)
            slot = np.full(pop.size, -1, dtype=np.int64)
            slot[rec] = np.arange(rec.size)
            self.out.arrays[f"{m.name}.slot"] = slot
            R = int(rec.size)
            slot_ptr = k.ptr(f"{m.name}_slot_ptr_", f"A:{m.name}.slot")
            k.ptr("base_ptr_", "M:_base")
            values = []
            for n, v in enumerate(m.variables):
                key = f"{m.name}.{v}"
                self.out.recorders[key] = Recorder(key, "state", self.B * R, "float")
                expr = pop.subexpressions.get(v, _sym(v))
                values.append(cx.StateValue(k.ptr(f"{m.name}_rec{n}_ptr_", f"M:{key}"),
                                            pr.doprint(expr)))
            self.out.monitors[m.name] = ("state", [f"{m.name}.{v}" for v in m.variables],
                                         R, pop.size)
            out.append(cx.StateMonitor(m.name, tuple(m.variables), R, self.B * R, slot_ptr,
                                       tuple(values)))
        return out

    def reset_lines(self, pop: ir.Population, pr: TritonPrinter
                    ) -> tuple[list[Line], list[str]]:
        """The reset as kernel lines, and the variables it writes."""
        lines, written = [], []
        for st in pop.reset:
            st = st.as_assignment()
            x = _local(st.target)
            lines.append(Line(f"{x} = tl.where(spk_, {pr.doprint(st.expr)}, {x})",
                              f"reset: {st.comment or st}"))
            written.append(st.target)
        return lines, written

    def reset_kernel(self, pop: ir.Population) -> None:
        """The reset after the synaptic pathways (Brian2's order), for a population whose
        synapses read or write what the reset changes. Shared by populations of the same
        model: its constants are arguments, its comments at the launch."""
        k = KernelFrame(f"{pop.name}_reset", "reset", f"{pop.name}: reset after the "
                        "synapses", consts=[])
        pr = self.pop_printer(pop, k.consts)
        k.ptr("hist_ptr_", f"S:{pop.name}._spike_history")
        loads = self.variables(k, pop.name, list(pop.variables))
        reset, written = self.reset_lines(pop, pr)
        ctx = cx.ResetContext(t=self.time(pop.time_scale),
                              L=k.size("hist_len_", self.hist_len[pop.name]), loads=loads,
                              reset=[Line(ln.code) for ln in reset],
                              stores=_stores(loads, written))
        self.add_kernel(k, "reset.j2", ctx, pop, self.lanes(pop), phase="reset",
                        comments=[f"reset of {pop.name} after the synapses"]
                        + [ln.comment for ln in reset])

    # ------------------------------------------------------------ spike sources
    def poisson_kernel(self, pop: ir.Population) -> None:
        k = KernelFrame(f"{pop.name}_poisson", "threshold_poisson",
                        f"{pop.name}: {pop.size} Poisson sources")
        pr = TritonPrinter({"i": "i_", "t": "t_"}, None, self.streams)
        stream = self.streams[0]
        self.streams[0] += 1
        ctx = cx.ThresholdPoissonContext(
            t=self.time(1.0), rates_text=str(pop.rates), stream=stream,
            rates=pr.doprint(pop.rates), dt=repr(self.p.dt),
            spike_out=self.spike_output(k, pop))
        self.add_kernel(k, "threshold_poisson.j2", ctx, pop, self.lanes(pop))

    def generator_kernel(self, pop: ir.Population) -> None:
        k = KernelFrame(f"{pop.name}_generator", "threshold_generator",
                        f"{pop.name}: spike generator")
        steps = np.asarray(pop.spike_steps, dtype=np.int64)
        n_steps = int(steps.max()) + 1 if steps.size else 0
        # starts[s] .. starts[s + 1]: the spikes of step s; steps from n_steps on have
        # none (starts[n_steps] == starts[n_steps + 1] == number of spikes)
        starts = np.searchsorted(steps, np.arange(n_steps + 2), "left").astype(np.int64)
        order = np.argsort(steps, kind="stable")
        self.out.arrays[f"{pop.name}.starts"] = starts
        self.out.arrays[f"{pop.name}.indices"] = np.asarray(pop.spike_indices,
                                                            dtype=np.int64)[order]
        per_step = int(np.diff(starts).max()) if n_steps else 1
        chunk = max(2, min(64, 1 << (max(per_step, 1) - 1).bit_length()))
        k.ptr("starts_ptr_", f"A:{pop.name}.starts")
        k.ptr("indices_ptr_", f"A:{pop.name}.indices")
        ctx = cx.ThresholdGeneratorContext(n_spikes=int(steps.size), n_steps=n_steps,
                                           spike_out=self.spike_output(k, pop))
        # BLOCK_F (the spikes compared with BLOCK neurons at a time): at most ``chunk``
        self.add_kernel(k, "threshold_generator.j2", ctx, pop, self.lanes(pop), fan=chunk,
                        kind="generator")

    # ------------------------------------------------------------ inputs
    def input_kernel(self, inp: ir.PoissonInput) -> None:
        """A Poisson input: one lane per neuron (and batch entry) of its target draws
        ``X`` from its own Philox stream, as the IR's ``method`` says, and adds ``weight *
        X`` to the target variable (``draw_input.j2``)."""
        pop = self.p.populations[inp.target]
        k = KernelFrame(f"{inp.name}_input", "draw_input",
                        f"{inp.name}: Poisson input into {pop.name}.{inp.variable}")
        k.ptr("target_ptr_", f"S:{pop.name}.{inp.variable}")
        start, stop = inp.span(pop.size)
        sliced = (start, stop) != (0, pop.size)
        if sliced:
            k.size("pop_n_", pop.size)
            k.size("start_", start)
        stream = self.streams[0]
        self.streams[0] += 1
        q = inp.q

        def num(x: float) -> str:
            return f"tl.full((), {py_float(x)}, DT)"

        ctx = cx.DrawInputContext(
            text=inp.describe(), comment=f"{inp.variable} += {inp.weight:g} * X",
            stream=stream, method=inp.method, sliced=sliced, n=num(float(inp.n)),
            bound=inversion_bound(inp.n, q) if inp.method == "inversion" else 0,
            p0=num(math.exp(inp.n * math.log1p(-q)) if q < 1.0 else float(inp.n == 0)),
            ratio=num(q / (1.0 - q) if q < 1.0 else 0.0), flip=inp.flipped,
            mean=num(inp.n * inp.p), sd=num(math.sqrt(inp.n * inp.p * (1.0 - inp.p))),
            weight=num(inp.weight))
        self.add_kernel(k, "draw_input.j2", ctx, pop, self.B * (stop - start),
                        phase="input", size=stop - start)

    # ------------------------------------------------------------ synapses
    def synapse_kernel(self, pr: ir.Projection) -> None:
        """The clock-driven equations of a projection: one lane per synapse (and batch
        entry), in place, after the population kernels (``update_synapses.j2``). The
        pre/post variables they read are gathered through the synapse's i / j."""
        pops = self.p.populations
        S = pr.n_synapses
        k = KernelFrame(f"{pr.name}_synapses", "update_synapses", f"{pr.name}: {S} synapses, "
                        f"clock-driven, method {pr.clock_method_used or '-'}", consts=[])
        names: dict[str, str] = {"i": "ipre_.to(DT)", "j": "jpost_.to(DT)", "t": "t_"}
        for v in pr.variables:
            names[v] = _local(v)
        used = names_in(pr.clock_update)
        gathers, what = [], []
        for side, pop_name, index in (("pre", pr.pre, "pre_"), ("post", pr.post, "post_")):
            for v in pops[pop_name].variables:
                sname = f"{v}_{side}"
                if sname not in used:
                    continue
                names[sname] = _local(sname)
                ptr = k.side(side, f"S:{pop_name}.{v}")
                gathers.append(cx.Gather(_local(sname), ptr, index))
                what.append(f"{_local(sname)} ({ptr}): {pop_name}.{v} of each synapse's "
                            f"{side}synaptic neuron")
        printer = self.printer(names, self.draw("offs_", "lanes"), k.consts)
        state_vars = {o.name for o in pr.clock_odes}
        loads = self.variables(k, pr.name, [v for v in pr.variables if v in used])
        update, commits = [], []
        for st in pr.clock_update:
            if st.target in state_vars:
                commits.append(Line(f"{_local(st.target)} = {printer.doprint(st.expr)}"))
                continue
            printer.names[st.target] = st.target
            update.append(Line(f"{st.target} = {printer.doprint(st.expr)}"))
        uses_pre = any(g.index == "pre_" for g in gathers) or "i" in used
        uses_post = any(g.index == "post_" for g in gathers) or "j" in used
        self.synapse_indices(k, pr, uses_pre, uses_post)
        stores = self.variables(k, pr.name, [o.name for o in pr.clock_odes])
        ctx = cx.UpdateSynapsesContext(
            n_pre=k.size("n_pre_", pops[pr.pre].size),
            n_post=k.size("n_post_", pops[pr.post].size), uses_pre=uses_pre,
            uses_post=uses_post, uses_t="t" in used, t=self.time(pr.time_scale), loads=loads,
            gathers=gathers, update=update + commits, stores=stores)
        comments = [f"clock-driven equations of {pr.name} ({pr.pre} -> {pr.post}, {S} "
                    f"synapses), one lane per synapse; state update "
                    f"({pr.clock_method_used}):"]
        comments += [o.text for o in pr.clock_odes]
        comments += [f"where {eq}" for eq in pr.subexpression_texts.values()]
        self.add_kernel(k, "update_synapses.j2", ctx, None, self.B * S, phase="synapses",
                        size=S, comments=comments + what)

    def pathway_kernel(self, pr: ir.Projection, stage: plan.Pathway) -> None:
        """The event code of ``stage``: one lane per (batch entry, source neuron, delay
        group), over the synapses of that neuron with that delay (their segment of the
        table by (source, delay), :func:`~snncc.backends.common.delay_table`)."""
        if stage.dense:
            self.dense_kernel(pr)
            return
        direction = stage.direction
        statements = pr.on_pre if direction == "on_pre" else pr.on_post
        src_name = stage.source
        src_index = pr.i if direction == "on_pre" else pr.j
        pops = self.p.populations
        n_src = pops[src_name].size
        S = pr.n_synapses
        delays = np.broadcast_to(pr.delay if direction == "on_pre" else 0, (S,))
        uniq = np.asarray(stage.delays, dtype=np.int64)
        ptr, syn = delay_table(src_index, delays, stage.delays, n_src)
        F = max(int(np.diff(ptr).max()), 1)  # the longest segment
        tag = f"{pr.name}.{direction}"
        self.out.arrays[f"{tag}.ptr"] = ptr
        self.out.arrays[f"{tag}.syn"] = syn
        self.out.arrays[f"{tag}.delays"] = uniq.astype(np.int64)
        k = KernelFrame(f"{pr.name}_{direction}", "pathway",
                        f"{pr.name} {direction}: {S} synapses, {uniq.size} delay group(s)",
                        consts=[])
        k.ptr("hist_ptr_", f"S:{src_name}._spike_history")
        k.ptr("ptr_ptr_", f"A:{tag}.ptr")
        k.ptr("syn_ptr_", f"A:{tag}.syn")
        k.ptr("delays_ptr_", f"A:{tag}.delays")
        body, comments, ops = self.event_code(k, pr, statements, direction)
        uses = self.event_uses(pr, statements)
        self.synapse_indices(k, pr, uses["pre"], uses["post"])
        ctx = cx.PathwayContext(
            n_src=k.size("n_src_", n_src), n_delays=k.size("n_delays_", uniq.size),
            fan=k.size("fan_", F), n_syn=k.size("n_syn_", S),
            L=k.size("hist_len_", self.hist_len[src_name]),
            n_pre=k.size("n_pre_", pops[pr.pre].size),
            n_post=k.size("n_post_", pops[pr.post].size), uses_sidx=uses["sidx"],
            uses_pre=uses["pre"], uses_post=uses["post"], uses_zero=uses["zero"], body=body)
        title = (f"{direction} of {pr.name} ({pr.pre} -> {pr.post}, {S} synapses): spikes "
                 f"of {src_name}, {uniq.size} delay group(s)")
        self.add_kernel(k, "pathway.j2", ctx, pops[src_name], self.B * n_src,
                        phase=direction, groups=int(uniq.size), fan=F,
                        per_thread=_per_thread(ops), comments=[title, *comments])

    def dense_kernel(self, pr: ir.Projection) -> None:
        """``on_pre`` as a spike-matmul (``templates/triton/pathway_dense.j2``): no
        atomics, the same sum order on every run."""
        pops = self.p.populations
        n_pre, n_post = pops[pr.pre].size, pops[pr.post].size
        S = pr.n_synapses
        d = int(pr.delay.max())
        table = np.full((n_pre, n_post), -1, dtype=np.int64)
        table[pr.i, pr.j] = np.arange(S)
        tag = f"{pr.name}.on_pre"
        self.out.arrays[f"{tag}.dense"] = table
        k = KernelFrame(f"{pr.name}_on_pre", "pathway_dense",
                        f"{pr.name} on_pre: {S} synapses, dense spike-matmul", consts=[])
        k.ptr("hist_ptr_", f"S:{pr.pre}._spike_history")
        k.ptr("dense_ptr_", f"A:{tag}.dense")
        names: dict[str, str] = {"i": "pre_[:, None].to(DT)", "j": "post_[None, :].to(DT)",
                                 "t": "t_"}
        for v in pr.variables:
            names[v] = _local(v)
        printer = self.printer(names, self.draw("sidx_", f"{self.B * S}"), k.consts)
        used = names_in(pr.on_pre)
        body = [Line(f"{x.local} = tl.load({x.ptr} + sidx_, mask=m_)")
                for x in self.variables(k, pr.name, [v for v in pr.variables if v in used])]
        for st in pr.on_pre:
            sign = "-" if st.op == "-=" else ""
            # zero_ + (...): a bare Python float would be a float32 constant in a kernel
            body.append(Line(f"acc_{st.target}_ += tl.sum(tl.where(m_, "
                             f"zero_ + {sign}({printer.doprint(st.expr)}), 0.0), axis=0)"))
        targets, bound = [], []
        for tgt in dict.fromkeys(st.target for st in pr.on_pre):
            var = tgt[:-len("_post")]
            ptr = k.side("post", f"S:{pr.post}.{var}")
            targets.append(cx.Accumulator(f"acc_{tgt}_", ptr))
            bound.append(f"{ptr}: {pr.post}.{var}")
        ctx = cx.PathwayDenseContext(
            n_pre=k.size("n_pre_", n_pre), n_post=k.size("n_post_", n_post),
            n_syn=k.size("n_syn_", S), delay=k.size("delay_", d),
            L=k.size("hist_len_", self.hist_len[pr.pre]),
            lanes_pre=k.size("lanes_pre_", self.B * n_pre), uses_t="t" in used,
            uses_sidx=bool(used & set(pr.variables))
            or any(s.expr.atoms(rand, randn) for s in pr.on_pre),
            t=self.time(pr.time_scale), body=body, targets=targets)
        comments = [f"on_pre of {pr.name} ({pr.pre} -> {pr.post}, {S} synapses, "
                    f"{S / (n_pre * n_post):.0%} dense): spike-matmul over the spikes of "
                    f"{pr.pre}, delay {d} step(s)"]
        comments += [f"on_pre: {ln.strip()}" for ln in pr.on_pre_text.strip().splitlines()]
        comments += bound
        self.add_kernel(k, "pathway_dense.j2", ctx, pops[pr.post], n_post, phase="on_pre",
                        groups=self.B, fan=n_pre, kind="dense", comments=comments)

    def event_code(self, k: KernelFrame, pr: ir.Projection, statements: list[Statement],
                   direction: str) -> tuple[list[Line], list[str], int]:
        """The per-synapse lines of a pathway: event-driven updates, then its statements
        (synapse variables in registers, pre/post variables through atomics); the
        comments for its launch (the code they run, the variables the pointers bind);
        and its loads, stores, atomics and draws (four each) per synapse."""
        pops = self.p.populations
        text = pr.on_pre_text if direction == "on_pre" else pr.on_post_text
        names: dict[str, str] = {"i": "ipre_.to(DT)", "j": "jpost_.to(DT)",
                                 "t": "t_", "_elapsed": "elapsed_"}
        for v in pr.variables:
            names[v] = _local(v)
        side_var: dict[str, tuple[str, str, str]] = {}  # "ge_post" -> (side, key, index)
        for side, pop_name, index in (("pre", pr.pre, "pre_"), ("post", pr.post, "post_")):
            for v in pops[pop_name].variables:
                side_var[f"{v}_{side}"] = (side, f"{pop_name}.{v}", index)
                names[f"{v}_{side}"] = _local(f"{v}_{side}")
        draws0 = self.streams[0]
        printer = self.printer(names, self.draw("sidx_", f"{self.B * pr.n_synapses}"),
                               k.consts)
        comments: list[str] = []
        lines: list[Line] = []
        if "t" in names_in(statements):
            lines.append(Line(f"t_ = {self.time(pr.time_scale)}"))
        used = names_in(statements) | names_in(pr.update)
        syn_written: list[str] = []
        loaded = [v for v in pr.variables
                  if v in used or (pr.update and v == "lastupdate")]
        lines += [Line(f"{x.local} = tl.load({x.ptr} + sidx_, mask=m_)")
                  for x in self.variables(k, pr.name, loaded)]
        ops = len(loaded)
        if pr.update:
            lines.append(Line(
                f"elapsed_ = (step_ - lastupdate).to(DT) * {self.p.dt * pr.time_scale!r}"))
            comments.append(f"event-driven ({pr.method_used}): advance to t from the "
                            "last event")
            comments += [o.text for o in pr.odes]
            for st in pr.update:
                x = st.target if st.target.startswith("_") else _local(st.target)
                lines.append(Line(f"{x} = {printer.doprint(st.expr)}"))
                if not st.target.startswith("_"):
                    syn_written.append(st.target)
                else:
                    printer.names[st.target] = st.target
        comments += [f"{direction}: {ln.strip()}" for ln in text.strip().splitlines()]

        def side_ptr(name: str) -> tuple[str, str]:
            side, key, index = side_var[name]
            arg = k.side(side, f"S:{key}")
            bound = f"{arg}: {key}"
            if bound not in comments:
                comments.append(bound)
            return arg, index

        for st in statements:
            reads = {s.name for s in st.expr.free_symbols}
            for r in sorted(reads & set(side_var)):
                arg, index = side_ptr(r)
                lines.append(Line(f"{_local(r)} = tl.load({arg} + {index}, mask=m_)"))
                ops += 1
            value = printer.doprint(st.expr)
            if st.target in pr.variables:
                x = _local(st.target)
                if st.op == "=" and not st.expr.free_symbols:
                    # a bare Python float would be a float32 constant in a kernel
                    value = f"zero_ + ({value})"
                lines.append(Line(f"{x} = " + (value if st.op == "=" else
                                               f"{x} {st.op[0]} ({value})")))
                syn_written.append(st.target)
                continue
            arg, index = side_ptr(st.target)
            ops += 1
            if st.op in ("+=", "-="):
                sign = "-" if st.op == "-=" else ""
                lines.append(Line(f"tl.atomic_add({arg} + {index}, zero_ + {sign}({value}), "
                                  "mask=m_)"))
            elif st.op == "=":
                lines.append(Line(f"tl.store({arg} + {index}, zero_ + ({value}), mask=m_)"))
            else:
                raise BackendError(
                    f"projection {pr.name!r}, {direction}: '{st.comment or st}' multiplies "
                    f"a variable of a population that many synapses may change at once; the "
                    f"triton backend has no atomic multiply: write it as '+=' (e.g. "
                    f"'x += x*(f - 1)') or use backend='torch'")
        if pr.update:
            lines.append(Line("lastupdate = tl.zeros_like(lastupdate) + step_"))
            syn_written.append("lastupdate")
        stored = list(dict.fromkeys(syn_written))
        lines += [Line(f"tl.store({_ptr(v)} + sidx_, {_local(v)}, mask=m_)") for v in stored]
        ops += len(stored) + 4 * (self.streams[0] - draws0)
        return lines, comments, ops

    def event_uses(self, pr: ir.Projection, statements: list[Statement]) -> dict[str, bool]:
        """What the event code of :meth:`event_code` needs from the kernel frame, from the
        names its statements read and write: the per-synapse state index (``sidx``: a
        synapse variable, the event-driven update, or a random draw, whose lane is the
        synapse), the pre/post neuron indices (``pre``/``post``: ``i``/``j`` or a
        variable of that side) and a zero block (``zero``: a write to a neuron, or a
        constant assigned to a synapse variable)."""
        names = names_in(statements) | names_in(pr.update)
        pre_pop = self.p.populations[pr.pre]
        post_pop = self.p.populations[pr.post]
        side = {f"{v}_pre" for v in pre_pop.variables} | {f"{v}_post" for v in post_pop.variables}
        draws = any(s.expr.atoms(rand, randn) for s in (*statements, *pr.update))
        return {"sidx": bool(pr.update) or bool(names & set(pr.variables)) or draws,
                "zero": any(s.target not in pr.variables
                            or (s.op == "=" and not s.expr.free_symbols) for s in statements),
                "pre": "i" in names or any(n in side and n.endswith("_pre") for n in names),
                "post": "j" in names or any(n in side and n.endswith("_post") for n in names)}

    # ------------------------------------------------------------ assembly
    def add_kernel(self, k: KernelFrame, template: str, ctx: object,
                   pop: ir.Population | None, lanes: int, phase: str = "neurons",
                   groups: int = 1, fan: int = 1, kind: str | None = None,
                   size: int | None = None, per_thread: int = 16,
                   comments: list[str] | None = None) -> None:
        """Render kernel ``k``'s body from its stage ``template`` and ``ctx``, and add its
        launch: to the jit function of the same text if there is one (see the module
        docstring), else to a new one. ``size`` (the kernel's ``size`` argument) is the
        population's size unless given; ``per_thread``: see ``launch.blocks``;
        ``comments``: shown above the launch."""
        key = self._text_key(k, template, ctx)
        body = key[-1]
        if key not in self.function_of:
            self.function_of[key] = len(self.functions)
            self.functions.append(cx.Function(k.name, k.kind, [], k.args, list(k.sizes),
                                              len(k.consts or ()), body))
        index = self.function_of[key]
        self.functions[index].uses.append(k.title)
        self.out.kernels.append(k.name)
        kind = kind or ("events" if phase in ("on_pre", "on_post") else "neurons")
        size = size if size is not None else pop.size  # type: ignore[union-attr]
        args = [f"{k.name}_consts" if src == "C:" else self._bind(src)
                for src in k.ptrs.values()] + [str(v) for v in k.sizes.values()]
        self.launches.append((index, cx.Launch(
            name=k.name, function="", phase=phase, lanes=lanes, kind=kind, size=size,
            groups=groups, fan=fan, per_thread=per_thread, args=args,
            consts=[py_float(x) for x in k.consts] if k.consts else None,
            comments=list(comments or []))))

    @staticmethod
    def _text_key(k: KernelFrame, template: str, ctx: object) -> tuple:
        """What makes two kernels one jit function: their stage, arguments and text
        (the rendered body, last)."""
        if k.consts:
            k.ptr("consts_ptr_", "C:")
        body = render("triton", template, c=ctx)
        return (k.kind, tuple(k.args), tuple(k.sizes), len(k.consts or ()), body)

    def _bind(self, source: str) -> str:
        kind, key = source.split(":", 1)
        return f'{kind}["{key}"]'

    def kernel(self, kernel: plan.Kernel) -> None:
        """Add the kernel of one group of stages of the plan."""
        p = self.p
        s0 = kernel.stages[0] if kernel.stages else None
        if kernel.kind == "synapses":
            self.synapse_kernel(p.projections[kernel.owner])
        elif kernel.kind == "pathway":
            assert isinstance(s0, plan.Pathway)
            for member in s0.members or (s0,):  # a merged ring: one member at a time
                self.pathway_kernel(p.projections[member.projection], member)
        elif kernel.kind == "reset":
            self.reset_kernel(p.populations[kernel.owner])
        elif kernel.kind == "record":
            self.record_kernel(p.populations[kernel.owner], self._fuses(kernel)[0])
        elif kernel.kind == "input":
            assert isinstance(s0, plan.DrawInput)
            for name in s0.names:  # merged inputs: one member after the other
                self.input_kernel(p.inputs[name])
        else:
            pop = p.populations[kernel.owner]
            if pop.kind == "poisson":
                self.poisson_kernel(pop)
            elif pop.kind == "generator":
                self.generator_kernel(pop)
            else:
                self.neuron_kernel(pop, *self._fuses(kernel))
        if kernel.note:
            index, launch = self.launches[-1]
            self.launches[-1] = (index, replace(launch,
                                                comments=[kernel.note, *launch.comments]))

    def generate(self) -> Generated:
        p = self.p
        self.shared_pops = self.shared_populations()
        for kernel in self.plan.kernels:
            self.kernel(kernel)
        for m in p.monitors.values():
            if m.kind in ("spike", "rate"):
                pop = p.populations[m.target]
                self.out.monitors[m.name] = (m.kind, [f"{pop.name}.raster"], self.lanes(pop),
                                             pop.size)
        # a function used by several launches is named after its stage, not one use
        functions, shared = [], 0
        for f in self.functions:
            if len(f.uses) > 1:
                shared += 1
                f = replace(f, name=f"{f.kind}_shared{shared}")
            functions.append(f)
        launches = [replace(launch, function=functions[i].name)
                    for i, launch in self.launches]
        self.out.source = render("triton", "network.py.j2", c=cx.ModuleContext(
            dt_ms=f"{p.dt * 1e3:g}", batch=p.batch, passes=" -> ".join(p.passes) or "none",
            schedule=tuple(self.plan.notes), functions=functions, launches=launches,
            seed=int(p.seed or 0) % 2**31))
        return self.out


def _stores(loads: list[Load], written: list[str]) -> list[Load]:
    """The loaded variables that ``written`` changes, in the order first written."""
    order = [_local(w) for w in dict.fromkeys(written)]
    return sorted((v for v in loads if v.local in order), key=lambda v: order.index(v.local))


def generate(program: ir.Program) -> Generated:
    """Generate the triton module for ``program`` (after the passes)."""
    return _Gen(program).generate()


def check_device(device: object) -> None:
    """Raise a BackendError if generated kernels cannot run on ``device`` here."""
    from snncc.kernels import import_triton, interpreting

    import_triton()
    if getattr(device, "type", str(device)) == "cpu" and not interpreting():
        raise BackendError(
            "the triton backend runs on the CPU only in Triton's interpreter, but Triton "
            "was imported in compiled mode before snncc could switch the interpreter on; "
            "set TRITON_INTERPRET=1 in the environment (or import snncc's triton backend "
            "before triton), or use backend='torch' on the CPU")
