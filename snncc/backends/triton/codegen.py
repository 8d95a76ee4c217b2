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
Resets that synapses could observe run after the pathways, as in Brian2.

That is Brian2's launch order (all population kernels, clock-driven kernels, on_pre,
on_post, deferred resets). Under ``schedule="layered"`` the same kernels are launched one
population at a time in ``Program.order`` (see :meth:`_Gen.layered_launches`); state
monitors of a population that synaptic kernels change before its own kernel runs record
in a kernel of their own, launched first.

Expressions are printed by :class:`~snncc.backends.triton.printer.TritonPrinter`; the
kernels and the launch code are framed by ``templates/triton/*.j2``; nothing here parses
strings. Kernels read the step counter from device memory, so the host only launches
and a CUDA graph can replay a block of steps.
"""

from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass, field

import numpy as np
import sympy

from snncc.backends import common
from snncc.backends.common import (
    StateSpec,
    after_reset,
    ell_table,
    layer_reason,
    layered_order,
    schedule_notes,
    slot_pathways,
)
from snncc.backends.templating import render
from snncc.backends.triton.printer import TritonPrinter
from snncc.errors import BackendError
from snncc.ir import program as ir
from snncc.ir.program import refractory_steps
from snncc.ir.statements import Statement

DENSE_MIN_DENSITY = 0.25  # fraction of all pairs above which on_pre is a spike-matmul


@dataclass
class Recorder:
    """A device buffer a monitor records into, ``[chunk steps, lanes]``: ``raster``
    (int8 spikes of a population) or ``state`` (values of recorded neurons)."""

    key: str
    kind: str  # raster | state
    lanes: int
    dtype: str  # int8 | float


@dataclass
class Generated(common.Generated):
    """What the triton backend produces: also the monitors' device buffers."""

    recorders: dict[str, Recorder] = field(default_factory=dict)
    # monitor name -> (kind, recorder key(s), population lanes, population size)
    monitors: dict[str, tuple] = field(default_factory=dict)
    loop: str = "device"  # the runtime drives the step loop (chunks, CUDA graphs)


# Names in a generated kernel, in four namespaces that cannot meet: the user's variables
# (never starting with "_"; renamed by _local where they would shadow an argument, a
# module or a builtin, or end with "_"), the IR's temporaries (starting with "_"), the
# kernel's own locals (ending with "_", e.g. step_, offs_, spk_) and pointers (ending
# with "_ptr_": <var>_var_ptr_ for the owner's variables, <var>_<side>_side_ptr_ for a
# synapse's pre/post neurons, <monitor>_slot_ptr_ and <monitor>_rec<k>_ptr_ for the k-th
# variable a state monitor records, and fixed ones: hist_ptr_, ell_ptr_, ...). Each
# pattern ends differently, so no user name makes two pointers one (a variable "hist"
# has hist_var_ptr_, not the spike history's hist_ptr_).
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


def _names_in(statements: list[Statement]) -> set[str]:
    out: set[str] = set()
    for st in statements:
        out.add(st.target)
        out |= {s.name for s in st.expr.free_symbols}
    return out


class _Kernel:
    """A kernel being written: its pointer arguments (argument name -> "S:key" (state),
    "A:key" (static array) or "M:key" (monitor buffer)) and its stage template's context.
    ``title`` becomes the kernel's docstring: object names (identifiers) and numbers
    only, never free user text (that goes into comments)."""

    def __init__(self, name: str, title: str) -> None:
        self.name = name
        self.title = title
        self.ptrs: dict[str, str] = {}

    def ptr(self, arg: str, source: str) -> str:
        self.ptrs[arg] = source
        return arg

    @property
    def args(self) -> list[str]:
        return list(self.ptrs)


def _per_thread(body: list[dict[str, str]]) -> int:
    """Elements of an event-driven kernel's tile per GPU thread (``launch.blocks``):
    fewer where each synapse loads, stores, adds or draws more (each such value is live
    per element, a Philox draw is about four; 4 per thread keeps triplet STDP at about
    100 registers in float32)."""
    ops = sum(ln["code"].count(op) * weight for ln in body
              for op, weight in (("tl.load(", 1), ("tl.store(", 1), ("tl.atomic_add(", 1),
                                 ("_r.", 4)))
    return 16 if ops <= 3 else 8 if ops <= 8 else 4


def _line(code: str = "", comment: str = "") -> dict[str, str]:
    """A line of a kernel body for the templates' ``lines`` macro."""
    return {"code": code, "comment": comment}


class _Gen:
    def __init__(self, program: ir.Program) -> None:
        self.p = program
        self.out = Generated("")
        self.B = program.batch
        self.streams = [0]
        self.kernels: list[str] = []
        self.launches: list[dict] = []
        # spike history length of each population (max on_pre delay + 1)
        self.hist_len: dict[str, int] = {}
        for pop in program.populations.values():
            if pop.has_spikes:
                self.hist_len[pop.name] = 1
        for pr in program.projections.values():
            if pr.on_pre:
                self.hist_len[pr.pre] = max(self.hist_len[pr.pre], int(pr.delay.max()) + 1)
        self.rastered = {m.target for m in program.monitors.values()
                         if m.kind in ("spike", "rate")}
        # variables of each population that synaptic code run between its kernel and its
        # reset reads or writes: under Brian2's order, all synaptic code (event code and
        # clock-driven equations run after every population kernel); under the layered
        # order, the code launched in the population's own slot (the clock-driven
        # equations and on_post of the projections into it, its outgoing on_pre; the
        # pathways of its self-projections run after its reset)
        self.touched: dict[str, set[str]] = {p: set() for p in program.populations}
        layered = program.schedule == "layered"
        for pr in program.projections.values():
            events = [] if after_reset(program, pr) else [(pr.on_pre, pr.pre),
                                                          (pr.on_post, pr.post)]
            for code, slot in (*events, (pr.clock_update, pr.post)):
                for n in _names_in(code):
                    owner, var = ((pr.pre, n[:-4]) if n.endswith("_pre") else
                                  (pr.post, n[:-5]) if n.endswith("_post") else (None, n))
                    if owner is not None and (not layered or owner == slot):
                        self.touched[owner].add(var)

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

    def fused_reset(self, pop: ir.Population) -> bool:
        """The reset can run inside the population kernel when no synaptic code reads or
        writes a variable the reset reads or writes."""
        resets = _names_in(pop.reset) | {"lastspike", "not_refractory"}
        return not (resets & self.touched[pop.name])

    def pop_printer(self, pop: ir.Population) -> TritonPrinter:
        names = {v: _local(v) for v in pop.variables}
        names.update({"_n": "step_", "t": "t_", "i": "i_"})
        return TritonPrinter(names, self.draw("offs_", "lanes"), self.streams)

    def synapse_indices(self, k: _Kernel, pr: ir.Projection, pre: bool, post: bool) -> None:
        """Give kernel ``k`` the pre (``i_ptr_``) and/or post (``j_ptr_``) neuron index of
        each synapse of ``pr``."""
        if pre:
            self.out.arrays[f"{pr.name}.i"] = pr.i.astype(np.int64)
            k.ptr("i_ptr_", f"A:{pr.name}.i")
        if post:
            self.out.arrays[f"{pr.name}.j"] = pr.j.astype(np.int64)
            k.ptr("j_ptr_", f"A:{pr.name}.j")

    def variables(self, k: _Kernel, owner: str, names: list[str]) -> list[dict[str, str]]:
        """Pointer arguments for ``owner``'s variables ``names``: (local, pointer) pairs."""
        return [{"local": _local(v), "ptr": k.ptr(_ptr(v), f"S:{owner}.{v}")} for v in names]

    def spike_output(self, k: _Kernel, pop: ir.Population) -> dict:
        L = self.hist_len[pop.name]
        self.out.state[f"{pop.name}._spike_history"] = StateSpec((L, self.lanes(pop)), "int8")
        k.ptr("hist_ptr_", f"S:{pop.name}._spike_history")
        raster = pop.name in self.rastered
        if raster:
            key = f"{pop.name}.raster"
            self.out.recorders[key] = Recorder(key, "raster", self.lanes(pop), "int8")
            k.ptr("raster_ptr_", f"M:{key}")
            k.ptr("base_ptr_", "M:_base")
        return {"L": L, "raster": raster}

    # ------------------------------------------------------------ neurons
    def neuron_kernel(self, pop: ir.Population, record: bool = True) -> None:
        """The fused kernel of ``pop``; ``record``: its state monitors record here (else
        in :meth:`record_kernel`, launched at the start of the step)."""
        k = _Kernel(f"{pop.name}_neurons", f"{pop.name}: {pop.size} neurons, method "
                    f"{pop.method_used or '-'}")
        pr = self.pop_printer(pop)
        loads = self.variables(k, pop.name, list(pop.variables))
        recorders = self.state_recorders(k, pop, pr) if record else []
        refractory = None
        if pop.refractory is not None:
            steps = refractory_steps(pop.refractory)
            if steps is None or "lastspike" not in pop.variables:
                steps = None
            refractory = {"text": pop.refractory_text, "steps": steps,
                          "cond": None if steps is not None else pr.doprint(pop.refractory)}
        # state update: temporaries in order, the new values committed at the end
        state_vars = pop.updated_variables
        update, commits, written = [], [], []
        for st in pop.update:
            if st.target in state_vars:
                commits.append(st)
                continue
            pr.names[st.target] = st.target
            update.append(_line(f"{st.target} = {pr.doprint(st.expr)}",
                                "" if st.comment == "common subexpression" else st.comment))
        for st in commits:
            value = pr.doprint(st.expr)
            x = _local(st.target)
            if st.target in pop.unless_refractory and refractory:
                comment = st.comment if "unless refractory" in st.comment \
                    else f"{st.comment} (unless refractory)"
                update.append(_line(f"{x} = tl.where(notref_, {value}, {x})", comment))
            else:
                update.append(_line(f"{x} = {value}", st.comment))
            written.append(st.target)
        threshold, spike_out, reset = None, None, []
        if pop.threshold is not None:
            threshold = {"text": pop.threshold_text, "cond": pr.doprint(pop.threshold)}
            spike_out = self.spike_output(k, pop)
            if self.fused_reset(pop):
                reset, more = self.reset_lines(pop, pr)
                written += more
        stores = [v for v in loads if v["local"] in
                  {_local(w) for w in dict.fromkeys(written)}]
        stores.sort(key=lambda v: [_local(w) for w in dict.fromkeys(written)].index(v["local"]))
        text = render("triton", "neurons.j2", k=k, t=self.time(pop.time_scale), loads=loads,
                      recorders=recorders, refractory=refractory, model=pop.model_name,
                      method=pop.method_used, equations=[o.text for o in pop.odes] if pop.update
                      else [], subexpressions=list(pop.subexpression_texts.values())
                      if pop.update else [], update=update, threshold=threshold,
                      spike_out=spike_out, reset=reset, stores=stores)
        self.add_kernel(k, text, pop, self.lanes(pop))

    def record_kernel(self, pop: ir.Population) -> None:
        """The state monitors of ``pop`` as a kernel of their own, launched first in the
        step: under the layered schedule, synaptic kernels launched before ``pop``'s
        kernel change its variables, and monitors record the start of the step."""
        k = _Kernel(f"{pop.name}_record", f"{pop.name}: state monitors (values at the "
                    f"start of the step)")
        pr = self.pop_printer(pop)
        used: set[str] = set()
        for m in self.p.monitors.values():
            if m.kind == "state" and m.target == pop.name:
                for v in m.variables:
                    expr = pop.subexpressions.get(v, _sym(v))
                    used |= {v} | {sy.name for sy in expr.free_symbols}
        loads = self.variables(k, pop.name, [v for v in pop.variables if v in used])
        recorders = self.state_recorders(k, pop, pr)
        text = render("triton", "neurons.j2", k=k, t=self.time(pop.time_scale), loads=loads,
                      recorders=recorders, refractory=None, model=pop.model_name,
                      method=None, equations=[],
                      subexpressions=[], update=[], threshold=None, spike_out=None,
                      reset=[], stores=[])
        self.add_kernel(k, text, pop, self.lanes(pop), phase="record")

    def state_recorders(self, k: _Kernel, pop: ir.Population, pr: TritonPrinter
                        ) -> list[dict]:
        out = []
        for m in self.p.monitors.values():
            if m.kind != "state" or m.target != pop.name:
                continue
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
                values.append({"ptr": k.ptr(f"{m.name}_rec{n}_ptr_", f"M:{key}"),
                               "expr": pr.doprint(expr)})
            self.out.monitors[m.name] = ("state", [f"{m.name}.{v}" for v in m.variables],
                                         R, pop.size)
            out.append({"name": m.name, "vars": list(m.variables), "R": R, "BR": self.B * R,
                        "slot_ptr": slot_ptr, "records": values})
        return out

    def reset_lines(self, pop: ir.Population, pr: TritonPrinter
                    ) -> tuple[list[dict[str, str]], list[str]]:
        """The reset as kernel lines, and the variables it writes."""
        lines, written = [], []
        for st in pop.reset:
            st = st.as_assignment()
            x = _local(st.target)
            lines.append(_line(f"{x} = tl.where(spk_, {pr.doprint(st.expr)}, {x})",
                               f"reset: {st.comment or st}"))
            written.append(st.target)
        if "lastspike" in pop.variables:
            lines.append(_line("lastspike = tl.where(spk_, step_, lastspike)",
                               "lastspike = t (in steps)"))
            written.append("lastspike")
        if "not_refractory" in pop.variables:
            lines.append(_line("not_refractory = not_refractory & (spk_ == 0)",
                               "refractory from now on"))
            written.append("not_refractory")
        return lines, written

    def reset_kernel(self, pop: ir.Population) -> None:
        """The reset after the synaptic pathways (Brian2's order), for a population whose
        synapses read or write what the reset changes."""
        k = _Kernel(f"{pop.name}_reset", f"{pop.name}: reset after the synapses")
        pr = self.pop_printer(pop)
        k.ptr("hist_ptr_", f"S:{pop.name}._spike_history")
        loads = self.variables(k, pop.name, list(pop.variables))
        reset, written = self.reset_lines(pop, pr)
        order = [_local(w) for w in dict.fromkeys(written)]
        stores = sorted((v for v in loads if v["local"] in order),
                        key=lambda v: order.index(v["local"]))
        text = render("triton", "reset.j2", k=k, t=self.time(pop.time_scale),
                      L=self.hist_len[pop.name], loads=loads, reset=reset, stores=stores)
        self.add_kernel(k, text, pop, self.lanes(pop), phase="reset")

    # ------------------------------------------------------------ spike sources
    def poisson_kernel(self, pop: ir.Population) -> None:
        k = _Kernel(f"{pop.name}_poisson", f"{pop.name}: {pop.size} Poisson sources")
        pr = TritonPrinter({"i": "i_", "t": "t_"}, None, self.streams)
        stream = self.streams[0]
        self.streams[0] += 1
        rates = pr.doprint(pop.rates)
        text = render("triton", "poisson.j2", k=k, t=self.time(1.0), rates_text=str(pop.rates),
                      stream=stream, rates=rates, dt=repr(self.p.dt),
                      spike_out=self.spike_output(k, pop))
        self.add_kernel(k, text, pop, self.lanes(pop))

    def generator_kernel(self, pop: ir.Population) -> None:
        k = _Kernel(f"{pop.name}_generator", f"{pop.name}: spike generator")
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
        spike_out = self.spike_output(k, pop)
        text = render("triton", "generator.j2", k=k, n_spikes=steps.size, n_steps=n_steps,
                      spike_out=spike_out)
        # BLOCK_F (the spikes compared with BLOCK neurons at a time): at most ``chunk``
        self.add_kernel(k, text, pop, self.lanes(pop), fan=chunk, kind="generator")

    # ------------------------------------------------------------ synapses
    def synapse_kernel(self, pr: ir.Projection) -> None:
        """The clock-driven equations of a projection: one lane per synapse (and batch
        entry), in place, after the population kernels (``templates/triton/synapses.j2``).
        The pre/post variables they read are gathered through the synapse's i / j."""
        pops = self.p.populations
        S = pr.n_synapses
        k = _Kernel(f"{pr.name}_synapses", f"{pr.name}: {S} synapses, clock-driven, method "
                    f"{pr.clock_method_used or '-'}")
        names: dict[str, str] = {"i": "ipre_.to(DT)", "j": "jpost_.to(DT)", "t": "t_"}
        for v in pr.variables:
            names[v] = _local(v)
        used = _names_in(pr.clock_update)
        gathers = []
        for side, pop_name, index in (("pre", pr.pre, "pre_"), ("post", pr.post, "post_")):
            for v in pops[pop_name].variables:
                sname = f"{v}_{side}"
                if sname not in used:
                    continue
                names[sname] = _local(sname)
                gathers.append({"local": _local(sname), "index": index,
                                "ptr": k.ptr(f"{sname}_side_ptr_", f"S:{pop_name}.{v}"),
                                "what": f"{pop_name}.{v} of each synapse's {side}synaptic "
                                        "neuron"})
        printer = TritonPrinter(names, self.draw("offs_", "lanes"), self.streams)
        state_vars = {o.name for o in pr.clock_odes}
        loads = self.variables(k, pr.name, [v for v in pr.variables if v in used])
        update, commits = [], []
        for st in pr.clock_update:
            if st.target in state_vars:
                commits.append(_line(f"{_local(st.target)} = {printer.doprint(st.expr)}",
                                     st.comment))
                continue
            printer.names[st.target] = st.target
            update.append(_line(f"{st.target} = {printer.doprint(st.expr)}",
                                "" if st.comment == "common subexpression" else st.comment))
        uses = {"pre": any(g["index"] == "pre_" for g in gathers) or "i" in used,
                "post": any(g["index"] == "post_" for g in gathers) or "j" in used,
                "t": "t" in used}
        self.synapse_indices(k, pr, uses["pre"], uses["post"])
        stores = self.variables(k, pr.name, [o.name for o in pr.clock_odes])
        text = render("triton", "synapses.j2", k=k, proj=pr.name, pre=pr.pre, post=pr.post,
                      n_syn=S, method=pr.clock_method_used,
                      equations=[o.text for o in pr.clock_odes],
                      subexpressions=list(pr.subexpression_texts.values()),
                      n_pre=pops[pr.pre].size, n_post=pops[pr.post].size, uses=uses,
                      t=self.time(pr.time_scale), loads=loads, gathers=gathers,
                      update=update + commits, stores=stores)
        self.add_kernel(k, text, None, self.B * S, phase="synapses", size=S)

    def pathway_kernel(self, pr: ir.Projection, direction: str) -> None:
        statements = pr.on_pre if direction == "on_pre" else pr.on_post
        if not statements:
            return
        if direction == "on_pre" and self.dense_ok(pr):
            self.dense_kernel(pr)
            return
        src_name = pr.pre if direction == "on_pre" else pr.post
        src_index = pr.i if direction == "on_pre" else pr.j
        pops = self.p.populations
        n_src = pops[src_name].size
        S = pr.n_synapses
        delays = pr.delay if direction == "on_pre" else np.zeros(1, np.int64)
        uniq = np.unique(delays)
        tables = []
        for d in uniq:
            sel = np.arange(S) if delays.size == 1 else np.nonzero(delays == d)[0]
            tables.append(ell_table(src_index[sel], sel, n_src)[0])
        F = max(t.shape[1] for t in tables)
        ell = np.full((len(tables), n_src, F), -1, dtype=np.int64)
        for g, t in enumerate(tables):
            ell[g, :, :t.shape[1]] = t
        tag = f"{pr.name}.{direction}"
        self.out.arrays[f"{tag}.ell"] = ell
        self.out.arrays[f"{tag}.delays"] = uniq.astype(np.int64)
        k = _Kernel(f"{pr.name}_{direction}",
                    f"{pr.name} {direction}: {S} synapses, {uniq.size} delay group(s)")
        k.ptr("hist_ptr_", f"S:{src_name}._spike_history")
        k.ptr("ell_ptr_", f"A:{tag}.ell")
        k.ptr("delays_ptr_", f"A:{tag}.delays")
        body = self.event_code(k, pr, statements, direction)
        used = "\n".join(ln["code"] for ln in body)
        uses = {"sidx": "sidx_" in used, "zero": "zero_" in used,
                "pre": "ipre_" in used or "pre_ " in used or "pre_," in used,
                "post": "jpost_" in used or "post_ " in used or "post_," in used}
        self.synapse_indices(k, pr, uses["pre"], uses["post"])
        text = render("triton", "events.j2", k=k, direction=direction, proj=pr.name,
                      pre=pr.pre, post=pr.post, n_syn=S, src=src_name, groups=uniq.size,
                      L=self.hist_len[src_name], n_src=n_src, F=F,
                      n_pre=pops[pr.pre].size, n_post=pops[pr.post].size, uses=uses,
                      body=body)
        self.add_kernel(k, text, pops[src_name], self.B * n_src, phase=direction,
                        groups=int(uniq.size), fan=F, per_thread=_per_thread(body))

    def dense_ok(self, pr: ir.Projection) -> bool:
        """A spike-matmul serves ``on_pre`` when the connectivity is dense (at least
        DENSE_MIN_DENSITY of all pairs, each pair once), the delay is homogeneous, and
        every statement adds to a postsynaptic variable a value that reads no neuron
        variable and writes nothing else (the classic ``ge += w``)."""
        n_pre = self.p.populations[pr.pre].size
        n_post = self.p.populations[pr.post].size
        S = pr.n_synapses
        if pr.update or np.unique(pr.delay).size != 1 or S < DENSE_MIN_DENSITY * n_pre * n_post:
            return False
        for st in pr.on_pre:
            if st.op not in ("+=", "-=") or not st.target.endswith("_post") \
                    or st.target in pr.variables:
                return False
            if any(sy.name.endswith(("_pre", "_post")) for sy in st.expr.free_symbols):
                return False
        pairs = pr.i.astype(np.int64) * n_post + pr.j.astype(np.int64)
        return np.unique(pairs).size == S

    def dense_kernel(self, pr: ir.Projection) -> None:
        """``on_pre`` as a spike-matmul (``templates/triton/dense.j2``): no atomics, the
        same sum order on every run."""
        pops = self.p.populations
        n_pre, n_post = pops[pr.pre].size, pops[pr.post].size
        S = pr.n_synapses
        d = int(pr.delay.max())
        table = np.full((n_pre, n_post), -1, dtype=np.int64)
        table[pr.i, pr.j] = np.arange(S)
        tag = f"{pr.name}.on_pre"
        self.out.arrays[f"{tag}.dense"] = table
        k = _Kernel(f"{pr.name}_on_pre", f"{pr.name} on_pre: {S} synapses, dense spike-matmul")
        k.ptr("hist_ptr_", f"S:{pr.pre}._spike_history")
        k.ptr("dense_ptr_", f"A:{tag}.dense")
        names: dict[str, str] = {"i": "pre_[:, None].to(DT)", "j": "post_[None, :].to(DT)",
                                 "t": "t_"}
        for v in pr.variables:
            names[v] = _local(v)
        printer = TritonPrinter(names, self.draw("sidx_", f"{self.B * S}"), self.streams)
        used = _names_in(pr.on_pre)
        body = [_line(f"{x['local']} = tl.load({x['ptr']} + sidx_, mask=m_)")
                for x in self.variables(k, pr.name, [v for v in pr.variables if v in used])]
        body += [_line(comment=f"on_pre: {ln.strip()}")
                 for ln in pr.on_pre_text.strip().splitlines()]
        for st in pr.on_pre:
            sign = "-" if st.op == "-=" else ""
            # zero_ + (...): a bare Python float would be a float32 constant in a kernel
            body.append(_line(f"acc_{st.target}_ += tl.sum(tl.where(m_, "
                              f"zero_ + {sign}({printer.doprint(st.expr)}), 0.0), axis=0)",
                              st.comment or str(st)))
        targets = []
        for tgt in dict.fromkeys(st.target for st in pr.on_pre):
            ptr = k.ptr(f"{tgt}_side_ptr_", f"S:{pr.post}.{tgt[:-len('_post')]}")
            targets.append({"ptr": ptr, "acc": f"acc_{tgt}_"})
        text = render("triton", "dense.j2", k=k, proj=pr.name, pre=pr.pre, post=pr.post,
                      n_syn=S, density=f"{S / (n_pre * n_post):.0%}", delay=d,
                      L=self.hist_len[pr.pre], lanes_pre=self.B * n_pre, n_pre=n_pre,
                      n_post=n_post, uses_t="t" in used, t=self.time(pr.time_scale),
                      accumulators=[t["acc"] for t in targets],
                      uses_sidx=any("sidx_" in ln["code"] for ln in body), body=body,
                      targets=targets)
        self.add_kernel(k, text, pops[pr.post], n_post, phase="on_pre", groups=self.B,
                        fan=n_pre, kind="dense")

    def event_code(self, k: _Kernel, pr: ir.Projection, statements: list[Statement],
                   direction: str) -> list[dict[str, str]]:
        """The per-synapse lines of a pathway: event-driven updates, then its statements
        (synapse variables in registers, pre/post variables through atomics)."""
        pops = self.p.populations
        text = pr.on_pre_text if direction == "on_pre" else pr.on_post_text
        names: dict[str, str] = {"i": "ipre_.to(DT)", "j": "jpost_.to(DT)",
                                 "t": "t_", "_elapsed": "elapsed_"}
        for v in pr.variables:
            names[v] = _local(v)
        side_ptr: dict[str, tuple[str, str]] = {}  # "ge_post" -> (pointer arg, index)
        for side, pop_name, index in (("pre", pr.pre, "pre_"), ("post", pr.post, "post_")):
            for v in pops[pop_name].variables:
                side_ptr[f"{v}_{side}"] = (f"{v}_{side}_side_ptr_", index)
                names[f"{v}_{side}"] = _local(f"{v}_{side}")
        printer = TritonPrinter(names, self.draw("sidx_", f"{self.B * pr.n_synapses}"),
                                self.streams)
        lines: list[dict[str, str]] = []
        if "t" in _names_in(statements):
            lines.append(_line(f"t_ = {self.time(pr.time_scale)}"))
        used = _names_in(statements) | _names_in(pr.update)
        syn_written: list[str] = []
        loaded = [v for v in pr.variables
                  if v in used or (pr.update and v == "lastupdate")]
        lines += [_line(f"{x['local']} = tl.load({x['ptr']} + sidx_, mask=m_)")
                  for x in self.variables(k, pr.name, loaded)]
        if pr.update:
            lines.append(_line(
                f"elapsed_ = (step_ - lastupdate).to(DT) * {self.p.dt * pr.time_scale!r}",
                f"event-driven ({pr.method_used}): advance to t from the last event"))
            lines += [_line(comment=f"  {o.text}") for o in pr.odes]
            for st in pr.update:
                x = st.target if st.target.startswith("_") else _local(st.target)
                lines.append(_line(f"{x} = {printer.doprint(st.expr)}"))
                if not st.target.startswith("_"):
                    syn_written.append(st.target)
                else:
                    printer.names[st.target] = st.target
        lines += [_line(comment=f"{direction}: {ln.strip()}") for ln in text.strip().splitlines()]
        for st in statements:
            reads = {s.name for s in st.expr.free_symbols}
            for r in sorted(reads & set(side_ptr)):
                arg, index = side_ptr[r]
                k.ptr(arg, "S:" + self._side_key(pr, r))
                lines.append(_line(f"{_local(r)} = tl.load({arg} + {index}, mask=m_)"))
            value = printer.doprint(st.expr)
            comment = st.comment or str(st)
            if st.target in pr.variables:
                x = _local(st.target)
                if st.op == "=" and not st.expr.free_symbols:
                    # a bare Python float would be a float32 constant in a kernel
                    value = f"zero_ + ({value})"
                lines.append(_line(f"{x} = " + (value if st.op == "=" else
                                                f"{x} {st.op[0]} ({value})"), comment))
                syn_written.append(st.target)
                continue
            arg, index = side_ptr[st.target]
            k.ptr(arg, "S:" + self._side_key(pr, st.target))
            if st.op in ("+=", "-="):
                sign = "-" if st.op == "-=" else ""
                lines.append(_line(f"tl.atomic_add({arg} + {index}, zero_ + {sign}({value}), "
                                   "mask=m_)", comment))
            elif st.op == "=":
                lines.append(_line(f"tl.store({arg} + {index}, zero_ + ({value}), mask=m_)",
                                   comment))
            else:
                raise BackendError(
                    f"projection {pr.name!r}, {direction}: '{st.comment or st}' multiplies "
                    f"a variable of a population that many synapses may change at once; the "
                    f"triton backend has no atomic multiply: write it as '+=' (e.g. "
                    f"'x += x*(f - 1)') or use backend='torch'")
        if pr.update:
            lines.append(_line("lastupdate = tl.zeros_like(lastupdate) + step_"))
            syn_written.append("lastupdate")
        lines += [_line(f"tl.store({_ptr(v)} + sidx_, {_local(v)}, mask=m_)")
                  for v in dict.fromkeys(syn_written)]
        return lines

    def _side_key(self, pr: ir.Projection, name: str) -> str:
        if name.endswith("_pre"):
            return f"{pr.pre}.{name[:-4]}"
        return f"{pr.post}.{name[:-5]}"

    # ------------------------------------------------------------ assembly
    def add_kernel(self, k: _Kernel, text: str, pop: ir.Population | None, lanes: int,
                   phase: str = "neurons", groups: int = 1, fan: int = 1,
                   kind: str | None = None, size: int | None = None,
                   per_thread: int = 16) -> None:
        """Add a kernel and its launch; ``size`` (the kernel's ``size`` argument) is the
        population's size unless given; ``per_thread``: see ``launch.blocks``."""
        # the stage templates leave blank lines where optional parts are absent
        self.kernels.append("\n".join(ln for ln in text.splitlines() if ln.strip()))
        self.out.kernels.append(k.name)
        kind = kind or ("events" if phase in ("on_pre", "on_post") else "neurons")
        size = size if size is not None else pop.size  # type: ignore[union-attr]
        self.launches.append({"name": k.name, "phase": phase, "lanes": lanes, "kind": kind,
                              "size": size, "groups": groups, "fan": fan, "note": "",
                              "per_thread": per_thread,
                              "args": [self._bind(src) for src in k.ptrs.values()]})

    def _bind(self, source: str) -> str:
        kind, key = source.split(":", 1)
        return f'{kind}["{key}"]'

    def population_kernel(self, pop: ir.Population, record: bool = True) -> None:
        """The kernel of a population (none for neurons with nothing to do)."""
        if pop.kind == "neuron":
            if pop.update or pop.threshold is not None or pop.refractory is not None \
                    or any(m.target == pop.name for m in self.p.monitors.values()):
                self.neuron_kernel(pop, record=record)
        elif pop.kind == "poisson":
            self.poisson_kernel(pop)
        else:
            self.generator_kernel(pop)

    def deferred_reset(self, pop: ir.Population) -> bool:
        return pop.kind == "neuron" and pop.threshold is not None and not self.fused_reset(pop)

    def brian2_launches(self) -> list[dict]:
        """Brian2's order: the population kernels, the clock-driven synaptic kernels, the
        on_pre kernels, the on_post kernels, the deferred resets."""
        p = self.p
        for pop in p.populations.values():
            self.population_kernel(pop)
        for pr in p.projections.values():
            if pr.clock_update:
                self.synapse_kernel(pr)
        for pr in p.projections.values():
            self.pathway_kernel(pr, "on_pre")
        for pr in p.projections.values():
            self.pathway_kernel(pr, "on_post")
        for pop in p.populations.values():
            if self.deferred_reset(pop):
                self.reset_kernel(pop)
        order = {"neurons": 0, "synapses": 1, "on_pre": 2, "on_post": 3, "reset": 4}
        return sorted(self.launches, key=lambda x: order[x["phase"]])

    def layered_launches(self) -> list[dict]:
        """The ``"layered"`` order (``Program.order``): the state monitors that must
        record before synaptic kernels change their population, then per population its
        kernel (update, threshold, fused reset), the clock-driven kernels of the
        projections into it, its outgoing on_pre kernels, the on_post kernels of the
        projections into it, its deferred reset, then the pathway kernels of its
        self-projections (acting from the next step on). A reset is fused only when none of the
        synaptic code launched between the population's kernel and the end of its slot
        reads or writes what the reset changes (``self.touched``)."""
        p = self.p
        projections = list(p.projections.values())
        order = layered_order(p)
        # populations whose variables synaptic code launched before their own kernel
        # writes (from the slot of a population earlier in the order)
        early_writes: set[str] = set()
        apart: set[str] = set()
        for name in order:
            pop = p.populations[name]
            if pop.kind == "neuron" and name in early_writes and any(
                    m.kind == "state" and m.target == name for m in p.monitors.values()):
                self.record_kernel(pop)
                apart.add(name)
            for pr in projections:
                for direction, statements in (("on_pre", pr.on_pre), ("on_post", pr.on_post)):
                    if (pr.pre if direction == "on_pre" else pr.post) != name:
                        continue
                    for st in statements:
                        if st.target in pr.variables:
                            continue
                        if st.target.endswith("_post"):
                            early_writes.add(pr.post)
                        elif st.target.endswith("_pre"):
                            early_writes.add(pr.pre)
        if self.launches:
            self.launches[0]["note"] = ("state monitors of populations that synaptic "
                                        "kernels change before their own kernel runs")
        for k, name in enumerate(order):
            pop = p.populations[name]
            start = len(self.launches)
            self.population_kernel(pop, record=name not in apart)
            for pr in projections:
                if pr.post == name and pr.clock_update:
                    self.synapse_kernel(pr)
            before, after = slot_pathways(p, name)
            for pr, d in before:
                self.pathway_kernel(pr, d)
            if self.deferred_reset(pop):
                self.reset_kernel(pop)
            for pr, d in after:
                self.pathway_kernel(pr, d)
            if len(self.launches) > start:
                self.launches[start]["note"] = (f"{k + 1}/{len(order)}: {name} "
                                                f"({layer_reason(p, name)})")
        return self.launches

    def generate(self) -> Generated:
        p = self.p
        layered = p.schedule == "layered"
        launches = self.layered_launches() if layered else self.brian2_launches()
        for m in p.monitors.values():
            if m.kind in ("spike", "rate"):
                pop = p.populations[m.target]
                self.out.monitors[m.name] = (m.kind, [f"{pop.name}.raster"], self.lanes(pop),
                                             pop.size)
        self.out.source = render(
            "triton", "network.py.j2", dt_ms=f"{p.dt * 1e3:g}", batch=p.batch,
            passes=" -> ".join(p.passes) or "none", kernels=self.kernels, launches=launches,
            seed=int(p.seed or 0) % 2**31, schedule=schedule_notes(p))
        return self.out


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
