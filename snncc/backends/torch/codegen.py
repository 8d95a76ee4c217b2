"""Torch code generation: IR program -> Python source of a ``step(n, rec)`` function.

The generated module (``templates/torch/network.py.j2``) binds the state tensors once
and returns a closure that advances the network one step: the stages of the program's
plan (:mod:`snncc.passes.plan`) in their order -- under Brian2's schedule monitors
(start of step), state updates (neurons, then clock-driven synaptic equations),
thresholds, synaptic events, resets; under ``schedule="layered"`` one population at a
time. Each stage is rendered from the template of its name (``update_state.j2``, ...)
with its context of :mod:`snncc.backends.torch.contexts`. Expressions are printed by
:class:`~snncc.backends.torch.printer.TorchPrinter`; the module defines the helpers and
imports the modules that its printers recorded, no others. Nothing here parses strings.
"""

from __future__ import annotations

import math

import numpy as np
import sympy

from snncc.backends.common import (
    Generated,
    Line,
    LocalNames,
    StateSpec,
    delay_table,
    ell_table,
    index_array,
    inversion_cdf,
    ring_table,
    stage_plan,
)
from snncc.backends.printing import py_float
from snncc.backends.templating import render
from snncc.backends.torch.contexts import (
    DelayGroup,
    DrawInputContext,
    EventDrivenUpdate,
    NetworkContext,
    PathwayContext,
    RecordSpikesContext,
    RecordStateContext,
    ResetContext,
    SlotContext,
    SpikeTable,
    ThresholdContext,
    UpdateStateContext,
    UpdateSynapsesContext,
)
from snncc.backends.torch.printer import TorchPrinter
from snncc.ir import plan
from snncc.ir import program as ir
from snncc.ir.plan import Stage
from snncc.ir.statements import Statement, names_in


def _conditional(st: Statement) -> tuple[sympy.Expr, sympy.Basic | None]:
    """``(value, cond)`` when ``st`` assigns ``where(cond, value, <its own target>)`` (a
    value committed only where ``cond`` holds, e.g. unless refractory), else
    ``(st.expr, None)``."""
    e = st.expr
    if isinstance(e, sympy.Piecewise) and len(e.args) == 2 and e.args[1].cond == sympy.true \
            and e.args[1].expr == sympy.Symbol(st.target, real=True):
        return e.args[0].expr, e.args[0].cond
    return e, None


def key(owner: str, var: str) -> str:
    """The key of ``owner.var`` in the state / array dictionaries."""
    return f"{owner}.{var}"


class _Gen:
    def __init__(self, program: ir.Program) -> None:
        self.p = program
        self.out = Generated("")
        # locals bound once in build(), in order: name -> its value
        self.bindings: dict[str, str] = {}
        # locals of the generated module: "<owner>_<var>", "<pop>_spk", ... never shared
        self.local = LocalNames(("t_ms",))
        self.B = program.batch
        self.need_t_ms = False
        self.need_np = False  # a spike generator's table is searched with np
        # every printer of the module: the helpers they printed are the ones it defines
        self.printers: list[TorchPrinter] = []
        self.need_idx: set[str] = set()
        # spike history length of each population (the plan's)
        self.hist_len = stage_plan(program).history
        for pr in program.projections.values():
            if pr.on_pre:
                self.need_idx.add(pr.pre)
            if pr.on_post:
                self.need_idx.add(pr.post)
        for m in program.monitors.values():
            if m.kind in ("spike", "rate"):
                self.need_idx.add(m.target)

    # ------------------------------------------------------------ helpers
    def bind(self, name: str, value: str) -> str:
        """``name``, bound to ``value`` in build() (once: the first value stays)."""
        self.bindings.setdefault(name, value)
        return name

    def bind_state(self, owner: str, var: str, flat: bool = False) -> str:
        name = self.bind(self.local(owner, var), f'S["{key(owner, var)}"]')
        if flat:
            return self.bind(self.local(owner, var, "f"), f"{name}.view(-1)")
        return name

    def bind_array(self, owner: str, name: str, arr: np.ndarray) -> str:
        self.out.arrays[key(owner, name)] = arr
        return self.bind(self.local(owner, name, kind="array"), f'A["{key(owner, name)}"]')

    def const(self, value: float) -> str:
        """A 0-d tensor holding ``value``, bound once (cheaper than a Python scalar in a
        tensor op); the name shows the value."""
        name = "_k_" + repr(float(value)).replace("-", "m").replace(".", "_").replace("+", "")
        return self.bind(name, f"torch.tensor({py_float(value)}, dtype=DTYPE, device=DEVICE)")

    def printer(self, names: dict[str, str], tensors: set[str], rand_shape: str,
                constant: bool = False) -> TorchPrinter:
        """A printer of this module (``constant``: numbers compared with tensors become
        bound 0-d tensors)."""
        pr = TorchPrinter(names, tensors, rand_shape=rand_shape,
                          constant=self.const if constant else None)
        self.printers.append(pr)
        return pr

    def time_name(self, scale: float) -> str:
        if scale == 1.0:
            return "t"
        self.need_t_ms = True
        return "t_ms"

    def pop_printer(self, pop: ir.Population) -> tuple[TorchPrinter, dict[str, str]]:
        names: dict[str, str] = {}
        tensors: set[str] = set()
        for k in pop.variables:
            names[k] = self.bind_state(pop.name, k)
            tensors.add(k)
        names["t"] = self.time_name(pop.time_scale)
        names["_n"] = "n"
        for c in pop.carried:  # computed by the state update, read by later stages
            names[c] = self.local(pop.name, c)
            tensors.add(c)
        names["i"] = self.bind_array(pop.name, "i", np.arange(pop.size, dtype=np.float64))
        tensors.add("i")
        return self.printer(names, tensors, self.bind_shape(pop), constant=True), names

    def bind_shape(self, pop: ir.Population) -> str:
        return self.bind(self.local(pop.name, role="shape"), f"({self.B}, {pop.size})")

    # ------------------------------------------------------------ neurons
    def assign(self, pr: TorchPrinter, target: str, expr: sympy.Expr) -> str:
        """``target = expr`` as torch code; a linear combination of tensors with numeric
        coefficients becomes one multiply and in-place ``add_`` calls (fewer temporaries
        than the printed expression)."""
        terms = (sympy.Add.make_args(sympy.expand(expr))
                 if isinstance(expr, sympy.Expr) and pr.is_tensor(expr) else ())
        lin: list[tuple[float, sympy.Symbol]] = []
        const = 0.0
        for term in terms:
            c, rest = term.as_coeff_Mul()
            if rest.is_Symbol and rest.name in pr.tensors and c.is_number:
                lin.append((float(c), rest))
            elif term.is_Number:
                const += float(term)
            else:
                lin = []
                break
        if len(lin) >= 2 or (lin and const != 0.0):
            c0, x0 = lin[0]
            parts = [f"{target} = torch.mul({pr.doprint(x0)}, {self.const(c0)})" if c0 != 1.0
                     else f"{target} = {pr.doprint(x0)}.clone()"]
            parts += [f"{target}.add_({pr.doprint(x)}, alpha={py_float(c)})" if c != 1.0
                      else f"{target}.add_({pr.doprint(x)})" for c, x in lin[1:]]
            if const != 0.0:
                parts.append(f"{target}.add_({self.const(const)})")
            return "; ".join(parts)
        return f"{target} = {pr.doprint(expr)}"

    def update_state(self, pop: ir.Population) -> str:
        pr, names = self.pop_printer(pop)
        lines: list[Line] = []
        finals: list[tuple[str, sympy.Expr, str]] = []  # var, value expr, comment
        state_vars = pop.updated_variables
        # a temporary read only by its variable's final "x = _x_new" is inlined there
        uses: dict[str, int] = {}
        for st in pop.update:
            for sy in st.expr.free_symbols:
                uses[sy.name] = uses.get(sy.name, 0) + 1
        inline: dict[str, sympy.Expr] = {}
        for st in pop.update:
            value, cond = _conditional(st)
            if st.target in state_vars and isinstance(value, sympy.Symbol) \
                    and uses.get(value.name) == 1 and value.name in inline:
                value = inline.pop(value.name)
                finals.append((st.target, value if cond is None else sympy.Piecewise(
                    (value, cond), (sympy.Symbol(st.target, real=True), True)), st.comment))
                continue
            # deferred temporaries needed here after all, in the order they were defined
            # (not in set order: that varies with the hash seed)
            reads = {sy.name for sy in st.expr.free_symbols}
            for name in [n for n in inline if n in reads]:
                pr.tensors.add(name)
                pr.names[name] = name
                lines.append(Line(self.assign(pr, name, inline.pop(name))))
            if st.target in state_vars:
                finals.append((st.target, st.expr, st.comment))
                continue
            if st.target.startswith("_") and uses.get(st.target) == 1 \
                    and st.target not in pop.carried \
                    and {sy.name for sy in st.expr.free_symbols} <= state_vars:
                inline[st.target] = st.expr
                continue
            lines.append(self.temporary(pr, st))
        for name, expr in inline.items():  # deferred but not consumed: compute normally
            pr.tensors.add(name)
            pr.names[name] = name
            lines.append(Line(self.assign(pr, name, expr)))
        # compute all new values, then commit them (old values are read until the end)
        commits: list[Line] = []
        for var, expr, comment in finals:
            tgt = names[var]
            expr, cond = _conditional(Statement(var, "=", expr))
            x = sympy.Symbol(var, real=True)
            coeff, rest = expr.as_coeff_Mul()
            if cond is None and rest == x and coeff.is_Number:
                commits.append(Line(f"{tgt}.mul_({self.const(float(coeff))})", comment))
                continue
            if isinstance(expr, sympy.Symbol) and expr.name.startswith("_"):
                value = pr.doprint(expr)
            else:
                value = f"_new_{var}"
                lines.append(Line(self.assign(pr, value, expr), comment))
                comment = ""
            if cond is not None:  # committed only where cond holds
                code = f"torch.where({pr.doprint(cond)}, {value}, {tgt}, out={tgt})"
            elif pr.is_tensor(expr):
                code = f"{tgt}.copy_({value})"
            else:
                code = f"{tgt}.fill_({value})"
            commits.append(Line(code, comment))
        return render("torch", "update_state.j2", c=UpdateStateContext(
            name=pop.name, size=pop.size, model=pop.model_name,
            method=pop.method_used or "-", equations=[o.text for o in pop.odes],
            subexpressions=list(pop.subexpression_texts.values()), lines=lines + commits))

    def threshold(self, pop: ir.Population, L: int) -> str:
        """Spikes of ``pop`` (kept for ``L`` steps when its pathways have delays)."""
        spk = self.local(pop.name, role="spk")
        shape = self.local(pop.name, role="shape")
        cond: str | None = None
        table: SpikeTable | None = None
        if pop.kind == "neuron":
            pr, _ = self.pop_printer(pop)
            cond = pr.doprint(pop.threshold)
            if not pr.is_tensor(pop.threshold):
                cond = f"torch.full({shape}, bool({cond}), device=DEVICE)"
            text = pop.threshold_text
        elif pop.kind == "poisson":
            pr, _ = self.pop_printer(pop)
            names = dict(pr.names)
            names["t"] = "t"
            pr = self.printer(names, pr.tensors, pr.rand_shape)
            rate = pr.doprint(pop.rates)
            cond = (f"torch.rand({shape}, generator=GEN, device=DEVICE, dtype=DTYPE) "
                    f"< ({rate}) * {self.p.dt!r}")
            text = f"Poisson, rates = {pop.rates}"
        else:
            self.out.host[key(pop.name, "steps")] = pop.spike_steps
            steps = self.local(pop.name, role="steps")
            self.bind(steps, f'H["{key(pop.name, "steps")}"]')
            idx = self.bind_array(pop.name, "indices", pop.spike_indices)
            table = SpikeTable(steps, idx, self.bind_shape(pop))
            self.need_np = True
            text = f"spike generator ({len(pop.spike_steps)} spikes)"
        lines: list[Line] = []
        if pop.name in self.need_idx:
            lines.append(Line(f"{self.local(pop.name, role='idx')} = {spk}.view(-1)"
                              ".nonzero().squeeze(1)"))
        if L > 1:
            self.out.state[key(pop.name, "_spike_history")] = StateSpec(
                (L, self.B * pop.size), "bool", 0.0)
            h = self.bind_state(pop.name, "_spike_history")
            lines.append(Line(f"{h}[n % {L}].copy_({spk}.view(-1))"))
        return render("torch", "threshold.j2", c=ThresholdContext(
            name=pop.name, text=text, spikes=spk, condition=cond, table=table, lines=lines))

    def reset(self, pop: ir.Population) -> str:
        pr, names = self.pop_printer(pop)
        spk = self.local(pop.name, role="spk")
        lines: list[Line] = []
        idx = self.local(pop.name, role="idx") if pop.name in self.need_idx else None
        for st in pop.reset:
            st = st.as_assignment()
            tgt = names[st.target]
            if not pr.is_tensor(st.expr) and idx is not None:
                # the spike indices are at hand: write only the neurons that spiked
                flat = self.bind_state(pop.name, st.target, flat=True)
                code = f"{flat}.index_fill_(0, {idx}, {pr.doprint(st.expr)})"
            elif not pr.is_tensor(st.expr):
                code = f"{tgt}.masked_fill_({spk}, {pr.doprint(st.expr)})"
            else:
                code = f"{tgt}.copy_(torch.where({spk}, {pr.doprint(st.expr)}, {tgt}))"
            lines.append(Line(code, st.comment))
        return render("torch", "reset.j2", c=ResetContext(pop.name, lines))

    # ------------------------------------------------------------ synapses
    def temporary(self, printer: TorchPrinter, st: Statement) -> Line:
        """``st`` (a temporary, e.g. a common subexpression) as a template line; the
        printer knows its name afterwards."""
        tensor = printer.is_tensor(st.expr)
        name = printer.names.get(st.target, st.target)  # a carried one has its local
        code = self.assign(printer, name, st.expr) + ("" if tensor else "  # scalar")
        if tensor:
            printer.tensors.add(st.target)
        printer.names[st.target] = name
        return Line(code, "" if st.comment == "common subexpression" else st.comment)

    def update_synapses(self, pr: ir.Projection) -> str:
        """The clock-driven equations of a projection, for every synapse ([batch, S]
        tensors): the pre/post variables they read are gathered per synapse first."""
        names: dict[str, str] = {}
        tensors: set[str] = set()
        for k in pr.variables:
            names[k] = self.bind_state(pr.name, k)
            tensors.add(k)
        names["t"] = self.time_name(pr.time_scale)
        shape = self.bind(self.local(pr.name, role="shape"), f"({self.B}, {pr.n_synapses})")
        used = {sy.name for st in pr.clock_update for sy in st.expr.free_symbols}
        gathers: list[Line] = []
        for side, pop_name, index in (("pre", pr.pre, pr.i), ("post", pr.post, pr.j)):
            for k in self.p.populations[pop_name].variables:
                sname = f"{k}_{side}"
                if sname not in used:
                    continue
                idx = self.bind_array(pr.name, "i" if side == "pre" else "j", index)
                names[sname] = f"_{sname}"
                tensors.add(sname)
                gathers.append(Line(
                    f"_{sname} = {self.bind_state(pop_name, k)}.index_select(1, {idx})",
                    f"{sname}: {pop_name}.{k} of each synapse's {side}synaptic neuron"))
        for k, index in (("i", pr.i), ("j", pr.j)):
            if k in used:  # [batch, S] like the state (in-place sums need the full shape)
                names[k] = self.bind_array(pr.name, f"{k}_value", np.tile(
                    index.astype(np.float64), (self.B, 1)))
                tensors.add(k)
        printer = self.printer(names, tensors, shape, constant=True)
        state_vars = {o.name for o in pr.clock_odes}
        lines: list[Line] = []
        commits: list[Line] = []
        # temporaries in order (they read old values only), then the new values committed
        for st in pr.clock_update:
            if st.target not in state_vars:
                lines.append(self.temporary(printer, st))
                continue
            tgt = names[st.target]
            coeff, rest = st.expr.as_coeff_Mul()
            if rest == sympy.Symbol(st.target, real=True) and coeff.is_Number:
                code = f"{tgt}.mul_({self.const(float(coeff))})"
            elif not printer.is_tensor(st.expr):
                code = f"{tgt}.fill_({printer.doprint(st.expr)})"
            elif isinstance(st.expr, sympy.Symbol) and st.expr.name.startswith("_"):
                code = f"{tgt}.copy_({printer.doprint(st.expr)})"
            else:
                lines.append(Line(self.assign(printer, f"_new_{st.target}", st.expr),
                                  st.comment))
                code = f"{tgt}.copy_(_new_{st.target})"
            commits.append(Line(code, st.comment))
        return render("torch", "update_synapses.j2", c=UpdateSynapsesContext(
            name=pr.name, pre=pr.pre, post=pr.post, n_syn=pr.n_synapses,
            method=pr.clock_method_used or "-", equations=[o.text for o in pr.clock_odes],
            subexpressions=list(pr.subexpression_texts.values()),
            lines=gathers + lines + commits))

    def pathway(self, pr: ir.Projection, stage: plan.Pathway) -> str:
        """The event code of ``stage`` for the synapses whose spikes arrive now, one
        block: for a ``direct`` stage (one delay) those of the neurons that spiked that
        many steps ago, for a ``queue`` stage those of the last steps' spikes through the
        table by (source, delay) of :func:`~snncc.backends.common.delay_table`; a
        ``ring`` stage is :meth:`ring_pathway`. Delayed spikes come from the source's
        spike history."""
        direction = stage.direction
        statements = pr.on_pre if direction == "on_pre" else pr.on_post
        src = stage.source
        src_index = pr.i if direction == "on_pre" else pr.j
        n_src = self.p.populations[src].size
        n_pre = self.p.populations[pr.pre].size
        n_post = self.p.populations[pr.post].size
        S = pr.n_synapses
        B = self.B
        delays = (pr.delay if direction == "on_pre" else np.zeros(1, np.int64))
        pre_pop, post_pop = self.p.populations[pr.pre], self.p.populations[pr.post]
        side_flat = {}
        for side, pop in (("pre", pre_pop), ("post", post_pop)):
            for k in pop.variables:
                side_flat[f"{k}_{side}"] = self.bind_state(pop.name, k, flat=True)
        if stage.delivery == "ring":
            return self.ring_pathway(stage, side_flat)
        # names in the event code
        syn_names: dict[str, str] = {}
        for k in pr.variables:
            syn_names[k] = self.bind_state(pr.name, k, flat=True)
        pre_arr = self.bind_array(pr.name, "i", pr.i)
        post_arr = self.bind_array(pr.name, "j", pr.j)
        one = self.const(1.0)  # expanded to the synapses of a step: no array per synapse
        # the per-synapse indices the event code needs (names it reads or writes)
        names = names_in(statements) | names_in(pr.update)
        used = {"_pre": any(n.endswith("_pre") and n in side_flat for n in names),
                "_post": any(n.endswith("_post") and n in side_flat for n in names),
                "_sidx": bool(pr.update) or bool(names & set(pr.variables))}
        fast = None if pr.update else self.constant_additive(pr, statements, direction)
        tgt_index = pr.j if direction == "on_pre" else pr.i
        n_tgt = n_post if direction == "on_pre" else n_pre
        label, spikes, body, ell, full = self.arrivals(pr, stage, src_index, delays, n_src)
        if fast is not None:
            # every statement adds a constant to a target-side variable: gather the
            # target indices of all synapses of the spiking neurons at once
            if ell is None:  # a queue: _syn, and _b (batch) if B > 1
                tgt = post_arr if direction == "on_pre" else pre_arr
                body.append(Line(f"_tgt = {tgt}[_syn]" if B == 1 else
                                 f"_tgt = {tgt}[_syn] + _b * {n_tgt}"))
                val = f"{one}.expand(_tgt.shape[0])"
            else:  # padding entries add 0 to element 0
                tgt_ell = np.where(ell >= 0, tgt_index[np.maximum(ell, 0)], 0)
                t_name = self.bind_array(pr.name, f"{direction}_target_ell",
                                         index_array(tgt_ell, n_tgt))
                if B == 1:
                    body.append(Line(f"_tgt = {t_name}.index_select(0, _idx).view(-1)"))
                else:
                    body.append(Line(f"_tgt = ({t_name}.index_select(0, _idx % {n_src}) + "
                                     f"(_idx // {n_src})[:, None] * {n_tgt}).view(-1)"))
                if full:
                    val = f"{one}.expand(_tgt.shape[0])"
                else:
                    v_name = self.bind_array(pr.name, f"{direction}_valid_ell",
                                             (ell >= 0).astype(np.float64))
                    body.append(Line(f"_val = {v_name}.index_select(0, _idx"
                                     f"{'' if B == 1 else f' % {n_src}'}).view(-1)"))
                    val = "_val"
            adds = [Line(f"{flat}.index_add_(0, _tgt, {val}, "
                         f"alpha={'-' if st.op == '-=' else ''}({value}))",
                         str(st.comment or st)) for st, flat, value in fast]
            return self.render_pathway(pr, stage, DelayGroup(label, S, spikes, body, None,
                                                             adds))
        update, code = self.event_code(pr, statements, syn_names, side_flat, one)
        if ell is not None:  # _syn (and _b) from the table by source
            ell_name = self.bind_array(pr.name, f"{direction}_ell", index_array(ell, S))
            if B == 1:
                body.append(Line(f"_syn = {ell_name}.index_select(0, _idx)"))
                body.append(Line("_syn = _syn[_syn >= 0]" if not full
                                 else "_syn = _syn.view(-1)"))
            else:
                body.append(Line(f"_b = _idx // {n_src}"))
                body.append(Line(f"_syn = {ell_name}.index_select(0, _idx % {n_src})"))
                body.append(Line("_b = _b[:, None].expand_as(_syn)"))
                if not full:
                    body += [Line("_keep = _syn >= 0"), Line("_syn = _syn[_keep]"),
                             Line("_b = _b[_keep]")]
                else:
                    body += [Line("_syn = _syn.reshape(-1)"), Line("_b = _b.reshape(-1)")]
        batch = {"_pre": f" + _b * {n_pre}", "_post": f" + _b * {n_post}",
                 "_sidx": f" + _b * {S}"} if B > 1 else {}
        if used["_pre"]:
            body.append(Line(f"_pre = {pre_arr}[_syn]{batch.get('_pre', '')}"))
        if used["_post"]:
            body.append(Line(f"_post = {post_arr}[_syn]{batch.get('_post', '')}"))
        if used["_sidx"]:
            body.append(Line(f"_sidx = _syn{batch.get('_sidx', '')}"))
        body.append(Line("_k = _syn.shape[0]"))
        return self.render_pathway(pr, stage, DelayGroup(label, S, spikes, body, update,
                                                         code))

    def render_pathway(self, pr: ir.Projection, stage: plan.Pathway, group: DelayGroup,
                       arrivals: list[Line] | None = None) -> str:
        """``pathway.j2`` for ``group`` (and a ring's ``arrivals``), headed by the
        projection (a merged ring's projections) and its code."""
        text = pr.on_pre_text if stage.direction == "on_pre" else pr.on_post_text
        source_lines = [f"{stage.direction}: {ln.strip()}"
                        for ln in text.strip().splitlines()]
        name, n_syn = pr.name, pr.n_synapses
        if stage.members:
            name = ", ".join(stage.projections)
            n_syn = sum(self.p.projections[m].n_synapses for m in stage.projections)
            source_lines.append(f"(the code of each of these {len(stage.members)} "
                                "projections, delivered at once)")
        return render("torch", "pathway.j2", c=PathwayContext(
            name=name, pre=pr.pre, post=pr.post, n_syn=n_syn,
            direction=f"{stage.direction} (spikes of {stage.source})",
            source_lines=source_lines, group=group, arrivals=arrivals or []))

    def segments(self, owner: str, what: str, entries: str, ptr: np.ndarray,
                 syn: np.ndarray | None) -> tuple[list[Line], bool]:
        """Lines that list the synapses of table entries ``entries`` (a code expression
        of int64 indices) one entry after the other: ``_pos``, their positions in the
        table (entry ``e`` holds positions ``ptr[e]:ptr[e + 1]``), and ``_syn``, their
        ids (``syn[_pos]``; ``_pos`` itself where ``syn`` is None: the table lists the
        synapses in id order). The table is bound as ``<what>_start`` and ``<what>_cnt``
        (and ``<what>_syn``), int32 where the values fit. Where no entry is much longer
        than the mean, every entry is read up to the longest through a mask ``_in``
        (fewer, cheaper operations; returns True); else entry by entry (``_seg``: the
        entry of each)."""
        lengths = np.diff(ptr)
        longest = int(lengths.max()) if lengths.size else 0
        mean = float(lengths[lengths > 0].mean()) if (lengths > 0).any() else 0.0
        start = self.bind_array(owner, f"{what}_start", index_array(ptr[:-1], int(ptr[-1])))
        cnt = self.bind_array(owner, f"{what}_cnt", index_array(lengths, longest))
        lines = [Line(f"_start = {start}.index_select(0, {entries})"),
                 Line(f"_cnt = {cnt}.index_select(0, {entries})")]
        if longest <= 4 * mean + 64:
            ar = self.bind(f"_arange_{longest}", f"torch.arange({longest}, device=DEVICE, "
                                                 "dtype=torch.int32)")
            lines += [Line(f"_in = {ar} < _cnt[:, None]",
                           f"each entry's synapses (entries hold up to {longest})"),
                      Line(f"_pos = (_start[:, None] + {ar}).masked_select(_in)")]
            masked = True
        else:
            lines += [Line("_seg = torch.repeat_interleave(_cnt.long())",
                           "the entries' synapses, one after the other"),
                      Line("_pos = _start.index_select(0, _seg) + (torch.arange(_seg.shape[0], "
                           "device=DEVICE) - (torch.cumsum(_cnt, 0) - _cnt).index_select(0, "
                           "_seg))")]
            masked = False
        if syn is None:
            lines.append(Line("_syn = _pos"))
        else:
            name = self.bind_array(owner, f"{what}_syn", index_array(syn, len(syn)))
            lines.append(Line(f"_syn = {name}.index_select(0, _pos)"))
        return lines, masked

    @staticmethod
    def per_synapse(values: str, masked: bool) -> str:
        """``values`` (one per entry listed by :meth:`segments`) for each synapse."""
        return (f"{values}[:, None].expand_as(_in).masked_select(_in)" if masked
                else f"{values}.index_select(0, _seg)")

    def ring_pathway(self, stage: plan.Pathway, side_flat: dict[str, str]) -> str:
        """A ``ring`` pathway: each spike adds its synapses' fixed values at once into
        the slot ``(n + delay) % R`` of a ring of ``R = max delay + 1`` steps per target
        variable (state ``<projection>._ring_<var>``); every step, the slot of step
        ``n`` is added to the targets and cleared. The synapses (of every member of a
        merged ring, whose variables the plan put in shared storage) are listed by
        source; each one's slot and target are one packed number ``delay * B*N + j``
        (``N`` the targets), so a spike costs a few gathers whatever the delays and the
        number of projections."""
        prs = [self.p.projections[m] for m in stage.projections]
        pr = prs[0]
        n_src = self.p.populations[pr.pre].size
        n_post = self.p.populations[pr.post].size
        S, B, R = sum(p.n_synapses for p in prs), self.B, stage.delays[-1] + 1
        BN = B * n_post
        ptr, syn, packed = ring_table(prs, n_src, BN, R)
        dj = self.bind_array(pr.name, "on_pre_ring_target", packed)
        del packed
        gather = [Line(f"_src = _idx{'' if B == 1 else f' % {n_src}'}",
                       "the synapses of the neurons that spiked now")]
        lines, masked = self.segments(pr.name, "on_pre_ring", "_src", ptr, syn)
        gather += lines
        if B > 1:
            gather.append(Line(f"_b = {self.per_synapse(f'(_idx // {n_src})', masked)}"))
        if stage.members:
            shared = {sh.variable: sh.key for sh in stage_plan(self.p).shared
                      if sh.projections == stage.projections}
            flat = {v: self.bind(self.local(pr.name, v, "shared"), f'S["{k}"].view(-1)')
                    for v, k in shared.items()}
        else:
            flat = {k: self.bind_state(pr.name, k, flat=True) for k in pr.variables}
        names = {k: f"{f}.index_select(0, _sidx)" for k, f in flat.items()}
        printer = self.printer(names, set(names), "(_k,)")
        if any(printer.is_tensor(st.expr) for st in pr.on_pre):
            gather.append(Line("_sidx = _syn" if B == 1 else f"_sidx = _syn + _b * {S}"))
        gather.append(Line("_k = _syn.shape[0]"))
        gather.append(Line(f"_tgt = {dj}.index_select(0, _pos)"
                           + ("" if B == 1 else f" + _b * {n_post}"),
                           f"slot (n + delay) % {R} and target, packed: delay * {BN} + j"))
        gather.append(Line(f"_tgt = _tgt.add_(n % {R} * {BN}).remainder_({R * BN})"))
        one = self.const(1.0)
        statements, arrivals, rings = [], [], {}
        for st in pr.on_pre:
            var = st.target[:-len("_post")]
            if var not in rings:
                k = f"_ring_{var}"
                self.out.state[key(pr.name, k)] = StateSpec((R, BN), "float", 0.0)
                rings[var] = self.bind_state(pr.name, k)
                arrivals += [Line(f"_arrive = {rings[var]}[n % {R}]"),
                             Line(f"{side_flat[st.target]}.add_(_arrive)",
                                  f"{st.target} += the inputs that arrive now"),
                             Line("_arrive.zero_()")]
            value = printer.doprint(st.expr)
            sign = "-" if st.op == "-=" else ""
            if printer.is_tensor(st.expr):
                code = (f"{rings[var]}.view(-1).index_add_(0, _tgt, {value}"
                        f"{', alpha=-1' if sign else ''})")
            else:
                code = (f"{rings[var]}.view(-1).index_add_(0, _tgt, {one}.expand(_k), "
                        f"alpha={sign}({value}))")
            statements.append(Line(code, f"{st.comment or st}, into the ring"))
        label = (f"delays {stage.delays[0]}..{stage.delays[-1]} step(s), "
                 f"{len(stage.delays)} values, through a ring of {R} steps per target")
        return self.render_pathway(pr, stage, DelayGroup(
            label, S, self.local(pr.pre, role="idx"), gather, None, statements), arrivals)

    def arrivals(self, pr: ir.Projection, stage: plan.Pathway, src_index: np.ndarray,
                 delays: np.ndarray, n_src: int
                 ) -> tuple[str, str, list[Line], np.ndarray | None, bool]:
        """How the spikes arriving now find their synapses: ``(label, spikes, gather,
        ell, full)``, ``spikes`` the code of the flat indices ``_idx`` the block starts
        from. Direct: the source neurons that spiked ``delay`` steps ago, and ``ell``,
        their synapses by source (``full``: no padding), which the caller gathers. Queue
        (``ell`` None): ``_idx`` indexes the window of the last steps' spikes, and
        ``gather`` computes the synapses ``_syn`` (and their batch ``_b``) through the
        table by (source, delay)."""
        direction, src, B = stage.direction, stage.source, self.B
        if stage.delivery == "direct":
            (d,) = stage.delays
            ell, full = ell_table(src_index, np.arange(pr.n_synapses), n_src)
            spikes = self.local(src, role="idx") if d == 0 else (
                f"{self.local(src, '_spike_history')}[(n - {int(d)}) % "
                f"{self.hist_len[src]}].nonzero().squeeze(1)")
            return f"delay {int(d)} step(s)", spikes, [], ell, full
        D, L = len(stage.delays), self.hist_len[src]
        ptr, syn = delay_table(src_index, delays, stage.delays, n_src)
        dl_name = self.bind_array(pr.name, f"{direction}_delays",
                                  np.asarray(stage.delays, dtype=np.int64))
        hist = self.local(src, "_spike_history")
        W = B * n_src
        lines, masked = self.segments(pr.name, f"{direction}_queue", "_key", ptr,
                                      None if np.array_equal(syn, np.arange(syn.size))
                                      else syn)
        gather = [Line(f"_key = (_idx % {n_src}) * {D} + _idx // {W}",
                       "its (source, delay) entry in the table"), *lines]
        if B > 1:
            gather.append(Line("_b = " + self.per_synapse(f"((_idx % {W}) // {n_src})",
                                                          masked)))
        label = (f"delays {stage.delays[0]}..{stage.delays[-1]} step(s), "
                 f"{D} values, through a queue by (source, delay)")
        spikes = f"{hist}[(n - {dl_name}) % {L}].view(-1).nonzero().squeeze(1)"
        return label, spikes, gather, None, True

    def constant_additive(self, pr: ir.Projection, statements: list[Statement],
                          direction: str) -> list[tuple[Statement, str, str]] | None:
        """If every statement adds a constant to a variable of the target side (post for
        on_pre, pre for on_post), the (statement, flat target, printed value) list."""
        side = "_post" if direction == "on_pre" else "_pre"
        pop = self.p.populations[pr.post if direction == "on_pre" else pr.pre]
        printer = self.printer({"t": self.time_name(pr.time_scale)}, set(), "(_k,)")
        out = []
        for st in statements:
            if st.op not in ("+=", "-=") or not st.target.endswith(side) \
                    or st.expr.free_symbols - {sympy.Symbol("t", real=True)} \
                    or printer.is_tensor(st.expr):
                return None
            flat = self.bind_state(pop.name, st.target[:-len(side)], flat=True)
            out.append((st, flat, printer.doprint(st.expr)))
        return out

    def event_code(self, pr: ir.Projection, statements: list[Statement],
                   syn_names: dict[str, str], side_flat: dict[str, str], one: str
                   ) -> tuple[EventDrivenUpdate | None, list[Line]]:
        """The event-driven update of the synapses of the spikes (if the projection has
        event-driven equations) and the event code ``statements``."""
        names: dict[str, str] = {}
        tensors: set[str] = set()
        for k, flat in syn_names.items():
            names[k] = f"{flat}[_sidx]"
            tensors.add(k)
        for k, flat in side_flat.items():
            names[k] = f"{flat}[{'_pre' if k.endswith('_pre') else '_post'}]"
            tensors.add(k)
        names["t"] = self.time_name(pr.time_scale)
        names["i"] = f"{self.local(pr.name, 'i', kind='array')}[_syn].to(DTYPE)"
        names["j"] = f"{self.local(pr.name, 'j', kind='array')}[_syn].to(DTYPE)"
        tensors |= {"i", "j"}
        printer = self.printer(names, tensors, "(_k,)")
        update = None
        if pr.update:
            last = syn_names["lastupdate"]
            printer.names["_elapsed"] = "_elapsed"
            printer.tensors.add("_elapsed")
            advance = [Line(f"_elapsed = (n - {last}[_sidx]).to(DTYPE) * "
                            f"{self.p.dt * pr.time_scale!r}")]
            for st in pr.update:
                if st.target.startswith("_"):
                    printer.names[st.target] = st.target
                    printer.tensors.add(st.target)
                    advance.append(Line(f"{st.target} = {printer.doprint(st.expr)}"))
                else:
                    advance.append(Line(f"{syn_names[st.target]}.index_put_((_sidx,), "
                                        f"{printer.doprint(st.expr)})"))
            update = EventDrivenUpdate(pr.method_used or "-", [o.text for o in pr.odes],
                                       advance)
        lines: list[Line] = []
        for st in statements:
            comment = str(st.comment or st)
            tgt = st.target
            if tgt in syn_names:
                flat, index = syn_names[tgt], "_sidx"
            else:
                flat, index = side_flat[tgt], "_pre" if tgt.endswith("_pre") else "_post"
            tensor = printer.is_tensor(st.expr)
            value = printer.doprint(st.expr)
            if st.op in ("+=", "-="):
                sign = "" if st.op == "+=" else "-"
                if tensor:
                    alpha = ", alpha=-1" if sign else ""
                    code = f"{flat}.index_add_(0, {index}, {value}{alpha})"
                else:
                    code = (f"{flat}.index_add_(0, {index}, {one}.expand(_k), "
                            f"alpha={sign}({value}))")
            elif st.op == "=":
                if tensor:
                    code = f"{flat}.index_put_(({index},), {value})"
                else:
                    # index_fill_ takes int64 indices only (the tables are int32)
                    code = f"{flat}.index_fill_(0, {index}.long(), {value})"
            else:  # *=, /=
                v = value if tensor else f"{one}.expand(_k) * ({value})"
                if st.op == "/=":
                    v = f"1.0 / ({v})"
                code = f"{flat}.index_reduce_(0, {index}, {v}, 'prod')"
            lines.append(Line(code, comment))
        if pr.update:
            lines.append(Line(f"{syn_names['lastupdate']}.index_fill_(0, _sidx.long(), n)"))
        return update, lines

    # ------------------------------------------------------------ monitors
    def record_state(self, m: ir.Monitor) -> str:
        """A state monitor records its variables (of all or of the chosen neurons)."""
        pop = self.p.populations[m.target]
        pr, _ = self.pop_printer(pop)
        rec = m.record if m.record is not None else np.arange(pop.size)
        all_ = rec.size == pop.size and np.array_equal(rec, np.arange(pop.size))
        idx = None if all_ else self.bind_array(m.name, "record", rec.astype(np.int64))
        lines: list[Line] = []
        for v in m.variables:
            expr = (pop.subexpressions[v] if v in pop.subexpressions
                    else sympy.Symbol(v, real=True))
            value = pr.doprint(expr)
            if not pr.is_tensor(expr):
                value = (f"torch.full({self.local(pop.name, role='shape')}, {value}, "
                         "device=DEVICE, dtype=DTYPE)")
            if all_:
                code = f"{value}.clone()" if v in pop.variables else value
            else:
                code = f"({value}).index_select(1, {idx})"
            lines.append(Line(f'rec["{m.name}.{v}"].append({code})'))
        return render("torch", "record_state.j2", c=RecordStateContext(m.name, m.target, lines))

    def record_spikes(self, m: ir.Monitor) -> str:
        """A spike or rate monitor records the indices of this step's spikes."""
        return render("torch", "record_spikes.j2", c=RecordSpikesContext(
            m.name, m.kind, m.target, self.local(m.target, role="idx")))

    # ------------------------------------------------------------ inputs
    def draw_input(self, inp: ir.PoissonInput) -> str:
        """A Poisson input: ``X`` for every neuron and batch entry, drawn as the IR's
        ``method`` says (``inversion``: a uniform ``u`` looked up in the table of
        ``P(Y <= k)`` up to the tail bound, the draw the Triton kernel walks; ``normal``:
        ``round(N p + sqrt(N p (1 - p)) z)`` clipped to ``[0, N]``), and ``weight * X``
        added to the target variable."""
        pop = self.p.populations[inp.target]
        shape = self.bind_shape(pop)
        target = self.bind_state(pop.name, inp.variable)
        start, stop = inp.span(pop.size)
        if (start, stop) != (0, pop.size):  # a slice of the population
            shape = f"({self.B}, {stop - start})"
            target = f"{target}[:, {start}:{stop}]"
        if inp.method == "inversion":
            table = inversion_cdf(inp.n, inp.q)
            cdf = self.bind_array(inp.name, "cdf", table)
            draw = [Line(f"_u = torch.rand({shape}, generator=GEN, device=DEVICE, "
                         "dtype=DTYPE)"),
                    Line(f"_x = torch.searchsorted({cdf}, _u, right=True).to(DTYPE)",
                         f"X exactly, by inversion: the number of k < {table.size} "
                         "with u >= P(Y <= k), where P(Y > that) < 1e-12")]
            if inp.flipped:
                draw.append(Line(f"_x = torch.sub({py_float(float(inp.n))}, _x)",
                                 "drawn for q = 1 - p: X = N - Y"))
        else:
            mean, sd = inp.n * inp.p, math.sqrt(inp.n * inp.p * (1.0 - inp.p))
            draw = [Line(f"_x = torch.randn({shape}, generator=GEN, device=DEVICE, "
                         f"dtype=DTYPE).mul_({py_float(sd)}).add_({py_float(mean)})"
                         f".round_().clamp_(0, {inp.n})",
                         "X = round(N p + sqrt(N p (1 - p)) z) clipped to [0, N], z ~ N(0, 1)")]
        add = Line(f"{target}.add_(_x, alpha={py_float(inp.weight)})",
                   f"{inp.variable} += {inp.weight:g} * X")
        return render("torch", "draw_input.j2", c=DrawInputContext(
            inp.name, pop.name, inp.describe(), draw, add))

    def draw_inputs(self, stage: plan.DrawInput) -> str:
        """Merged exact Poisson inputs into disjoint slices of one variable: one uniform
        ``u`` per neuron, looked up in its own input's row of a table of ``P(Y <= k)``
        (rows padded with 2, above any ``u``; a neuron no input reaches has a row of 2s
        and weight 0), and ``weight * X`` added with each neuron's input's weight."""
        inps = [self.p.inputs[n] for n in stage.names]
        pop = self.p.populations[stage.population]
        N, B = pop.size, self.B
        rows = [inversion_cdf(inp.n, inp.q) for inp in inps]
        table = np.full((N, max(1, *(r.size for r in rows))), 2.0)
        weight = np.zeros(N)
        for inp, row in zip(inps, rows, strict=True):
            a, b = inp.span(N)
            table[a:b, :row.size] = row
            weight[a:b] = inp.weight
        cdf = self.bind_array(stage.name, "cdf_rows", table)
        w = self.bind_array(stage.name, "weights", weight)
        target = self.bind_state(pop.name, inps[0].variable)
        draw = [Line(f"_u = torch.rand(({N}, {B}), generator=GEN, device=DEVICE, "
                     "dtype=DTYPE)"),
                Line(f"_x = torch.searchsorted({cdf}, _u, right=True).t().to(DTYPE)",
                     "X exactly, by inversion: the number of k with u >= P(Y <= k) in the "
                     "neuron's row (its input's N and p, up to P(Y > k) < 1e-12)")]
        add = Line(f"{target}.addcmul_(_x, {w})",
                   f"{inps[0].variable} += weight * X (each neuron its input's weight)")
        return render("torch", "draw_input.j2", c=DrawInputContext(
            "+".join(stage.names), pop.name, "; ".join(i.describe() for i in inps), draw,
            add))

    # ------------------------------------------------------------ stages
    def stage(self, s: Stage) -> str:
        """The code of one stage of the plan."""
        p = self.p
        if isinstance(s, plan.Slot):
            return render("torch", "slot.j2", c=SlotContext(s.index, s.count, s.population,
                                                            s.reason))
        if isinstance(s, plan.RecordState):
            return self.record_state(p.monitors[s.monitor])
        if isinstance(s, plan.RecordSpikes):
            return self.record_spikes(p.monitors[s.monitor])
        if isinstance(s, plan.UpdateState):
            return self.update_state(p.populations[s.population])
        if isinstance(s, plan.UpdateSynapses):
            return self.update_synapses(p.projections[s.projection])
        if isinstance(s, plan.Threshold):
            return self.threshold(p.populations[s.population], s.history)
        if isinstance(s, plan.Pathway):
            return self.pathway(p.projections[s.projection], s)
        if isinstance(s, plan.DrawInput):
            return (self.draw_inputs(s) if s.members else self.draw_input(p.inputs[s.name]))
        return self.reset(p.populations[s.population])

    # ------------------------------------------------------------ module
    def generate(self) -> Generated:
        p = self.p
        blocks = [self.stage(s).strip("\n") for s in stage_plan(p).stages]
        scales = {pop.time_scale for pop in p.populations.values()}
        self.out.source = render("torch", "network.py.j2", c=NetworkContext(
            name="network", dt_ms=f"{p.dt * 1e3:g}", dt_s=repr(p.dt),
            dt_ms_exact=repr(p.dt * 1e3), batch=p.batch,
            passes=" -> ".join(p.passes) or "none", schedule=stage_plan(p).notes,
            helpers=frozenset().union(*(pr.helpers for pr in self.printers)),
            numpy=self.need_np, bindings=[Line(f"{k} = {v}") for k, v in self.bindings.items()],
            need_t_ms=self.need_t_ms or 1000.0 in scales, blocks=blocks))
        return self.out


def generate(program: ir.Program) -> Generated:
    """Generate the torch module for ``program`` (after the passes)."""
    return _Gen(program).generate()
