"""Torch code generation: IR program -> Python source of a ``step(n, rec)`` function.

The generated module (``templates/torch/network.py.j2``) binds the state tensors once
and returns a closure that advances the network one step, in Brian2's order: monitors
(start of step), state updates (neurons, then clock-driven synaptic equations),
thresholds, synaptic events, resets -- or, under ``schedule="layered"``, one population
at a time in the order of the ``schedule`` pass (see :meth:`_Gen.layered_blocks`).
Expressions are printed by
:class:`~snncc.backends.torch.printer.TorchPrinter`; nothing here parses strings.
"""

from __future__ import annotations

import numpy as np
import sympy

from snncc.backends.common import (
    Generated,
    LocalNames,
    StateSpec,
    comment_text,
    ell_table,
    layer_reason,
    layered_order,
    schedule_notes,
    slot_pathways,
)
from snncc.backends.printing import py_float
from snncc.backends.templating import render
from snncc.backends.torch.printer import TorchPrinter
from snncc.ir import program as ir
from snncc.ir.program import refractory_steps
from snncc.ir.statements import Statement


def key(owner: str, var: str) -> str:
    """The key of ``owner.var`` in the state / array dictionaries."""
    return f"{owner}.{var}"


class _Gen:
    def __init__(self, program: ir.Program) -> None:
        self.p = program
        self.out = Generated("")
        self.bindings: list[str] = []
        # locals of the generated module: "<owner>_<var>", "<pop>_spk", ... never shared
        self.local = LocalNames(("t_ms",))
        self.B = program.batch
        self.need_t_ms = False
        self.need_idx: set[str] = set()
        self.hist_len: dict[str, int] = {}
        for pr in program.projections.values():
            if pr.on_pre:
                self.need_idx.add(pr.pre)
                self.hist_len[pr.pre] = max(self.hist_len.get(pr.pre, 1),
                                            int(pr.delay.max()) + 1)
            if pr.on_post:
                self.need_idx.add(pr.post)
        for m in program.monitors.values():
            if m.kind in ("spike", "rate"):
                self.need_idx.add(m.target)

    # ------------------------------------------------------------ helpers
    def bind_state(self, owner: str, var: str, flat: bool = False) -> str:
        name = self.local(owner, var)
        line = f'{name} = S["{key(owner, var)}"]'
        if line not in self.bindings:
            self.bindings.append(line)
        if flat:
            flat_name = self.local(owner, var, "f")
            fl = f"{flat_name} = {name}.view(-1)"
            if fl not in self.bindings:
                self.bindings.append(fl)
            return flat_name
        return name

    def bind_array(self, owner: str, name: str, arr: np.ndarray) -> str:
        self.out.arrays[key(owner, name)] = arr
        loc = self.local(owner, name, kind="array")
        line = f'{loc} = A["{key(owner, name)}"]'
        if line not in self.bindings:
            self.bindings.append(line)
        return loc

    def const(self, value: float) -> str:
        """A 0-d tensor holding ``value``, bound once (cheaper than a Python scalar in a
        tensor op); the name shows the value."""
        name = "_k_" + repr(float(value)).replace("-", "m").replace(".", "_").replace("+", "")
        line = f"{name} = torch.tensor({py_float(value)}, dtype=DTYPE, device=DEVICE)"
        if line not in self.bindings:
            self.bindings.append(line)
        return name

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
        if pop.refractory is not None:
            names["not_refractory"] = self.local(pop.name, role="notref")
            tensors.add("not_refractory")
        names["i"] = self.bind_array(pop.name, "i", np.arange(pop.size, dtype=np.float64))
        tensors.add("i")
        return TorchPrinter(names, tensors, rand_shape=self.bind_shape(pop),
                            constant=self.const), names

    def bind_shape(self, pop: ir.Population) -> str:
        shape = self.local(pop.name, role="shape")
        line = f"{shape} = ({self.B}, {pop.size})"
        if line not in self.bindings:
            self.bindings.append(line)
        return shape

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

    def state_update(self, pop: ir.Population) -> str | None:
        if pop.kind != "neuron" or (not pop.update and pop.refractory is None):
            return None
        pr, names = self.pop_printer(pop)
        refr = None
        notref = self.local(pop.name, role="notref")
        if pop.refractory is not None:
            k = refractory_steps(pop.refractory)
            if k is not None and "lastspike" in names:
                code = f"{notref} = {names['lastspike']} <= (n - {k})"
            else:
                flag = names["not_refractory"] = self.bind_state(pop.name, "not_refractory")
                cond = pr.doprint(pop.refractory)
                if not pr.is_tensor(pop.refractory):  # a constant condition (folded)
                    cond = f"torch.as_tensor({cond}, device=DEVICE)"
                code = (f"{flag}.logical_or_(~{cond})\n"
                        f"        {notref} = {flag}")
                names["not_refractory"] = notref
                pr.names["not_refractory"] = notref
            refr = {"text": pop.refractory_text, "code": code}
        lines: list[dict[str, str]] = []
        finals: list[tuple[str, sympy.Expr, str]] = []  # var, value expr, comment
        state_vars = pop.updated_variables
        # a temporary read only by its variable's final "x = _x_new" is inlined there
        uses: dict[str, int] = {}
        for st in pop.update:
            for sy in st.expr.free_symbols:
                uses[sy.name] = uses.get(sy.name, 0) + 1
        inline: dict[str, sympy.Expr] = {}
        for st in pop.update:
            if st.target in state_vars and isinstance(st.expr, sympy.Symbol) \
                    and uses.get(st.expr.name) == 1 and st.expr.name in inline:
                finals.append((st.target, inline.pop(st.expr.name), st.comment))
                continue
            for sy in st.expr.free_symbols:  # a deferred temporary needed here after all
                if sy.name in inline:
                    pr.tensors.add(sy.name)
                    pr.names[sy.name] = sy.name
                    lines.append({"comment": "", "code": self.assign(pr, sy.name,
                                                                     inline.pop(sy.name))})
            if st.target in state_vars:
                finals.append((st.target, st.expr, st.comment))
                continue
            if st.target.startswith("_") and uses.get(st.target) == 1 \
                    and {sy.name for sy in st.expr.free_symbols} <= state_vars:
                inline[st.target] = st.expr
                continue
            lines.append(self.temporary(pr, st))
        for name, expr in inline.items():  # deferred but not consumed: compute normally
            pr.tensors.add(name)
            pr.names[name] = name
            lines.append({"comment": "", "code": self.assign(pr, name, expr)})
        # compute all new values, then commit them (old values are read until the end)
        commits = []
        for var, expr, comment in finals:
            tgt = names[var]
            unless = var in pop.unless_refractory
            x = sympy.Symbol(var, real=True)
            coeff, rest = expr.as_coeff_Mul()
            if not unless and rest == x and coeff.is_Number:
                commits.append({"comment": comment,
                                "code": f"{tgt}.mul_({self.const(float(coeff))})"})
                continue
            if isinstance(expr, sympy.Symbol) and expr.name.startswith("_"):
                value = pr.doprint(expr)
            else:
                value = f"_new_{var}"
                lines.append({"comment": comment, "code": self.assign(pr, value, expr)})
                comment = ""
            if unless:
                code = f"torch.where({notref}, {value}, {tgt}, out={tgt})"
                if "unless refractory" not in comment:
                    comment = (comment + " " if comment else "") + "(unless refractory)"
            elif pr.is_tensor(expr):
                code = f"{tgt}.copy_({value})"
            else:
                code = f"{tgt}.fill_({value})"
            commits.append({"comment": comment, "code": code})
        return render("torch", "state_update.j2", pop={
            "name": pop.name, "size": pop.size, "model": pop.model_name,
            "method": pop.method_used or "-", "equations": [o.text for o in pop.odes],
            "subexpressions": list(pop.subexpression_texts.values()),
            "refractory": refr, "lines": lines + commits})

    def threshold(self, pop: ir.Population) -> str | None:
        if not pop.has_spikes:
            return None
        spk = self.local(pop.name, role="spk")
        shape = self.local(pop.name, role="shape")
        lines: list[str] = []
        if pop.kind == "neuron":
            pr, _ = self.pop_printer(pop)
            cond = pr.doprint(pop.threshold)
            if not pr.is_tensor(pop.threshold):
                cond = f"torch.full({shape}, bool({cond}), device=DEVICE)"
            if pop.refractory is not None:
                cond = f"{cond} & {self.local(pop.name, role='notref')}"
            lines.append(f"{spk} = {cond}")
            text = pop.threshold_text
        elif pop.kind == "poisson":
            pr, _ = self.pop_printer(pop)
            names = dict(pr.names)
            names["t"] = "t"
            pr = TorchPrinter(names, pr.tensors, pr.rand_shape)
            rate = pr.doprint(pop.rates)
            lines.append(f"{spk} = torch.rand({shape}, generator=GEN, device=DEVICE, "
                         f"dtype=DTYPE) < ({rate}) * {self.p.dt!r}")
            text = f"Poisson, rates = {pop.rates}"
        else:
            self.out.host[key(pop.name, "steps")] = pop.spike_steps
            steps = self.local(pop.name, role="steps")
            self.bindings.append(f'{steps} = H["{key(pop.name, "steps")}"]')
            idx = self.bind_array(pop.name, "indices", pop.spike_indices)
            self.bind_shape(pop)
            lines += [f"{spk} = torch.zeros({shape}, dtype=torch.bool, device=DEVICE)",
                      f"_lo = int(np.searchsorted({steps}, n, 'left'))",
                      f"_hi = int(np.searchsorted({steps}, n, 'right'))",
                      "if _hi > _lo:",
                      f"    {spk}[:, {idx}[_lo:_hi]] = True"]
            text = f"spike generator ({len(pop.spike_steps)} spikes)"
        if pop.name in self.need_idx:
            lines.append(f"{self.local(pop.name, role='idx')} = {spk}.view(-1).nonzero()"
                         ".squeeze(1)")
        L = self.hist_len.get(pop.name, 1)
        if L > 1:
            self.out.state[key(pop.name, "_spike_history")] = StateSpec(
                (L, self.B * pop.size), "bool", 0.0)
            h = self.bind_state(pop.name, "_spike_history")
            lines.append(f"{h}[n % {L}].copy_({spk}.view(-1))")
        return render("torch", "threshold.j2", pop={"name": pop.name, "text": text,
                                                    "lines": lines})

    def reset(self, pop: ir.Population) -> str | None:
        if pop.kind != "neuron" or pop.threshold is None:
            return None
        pr, names = self.pop_printer(pop)
        spk = self.local(pop.name, role="spk")
        lines = []
        for st in pop.reset:
            st = st.as_assignment()
            tgt = names[st.target]
            if not pr.is_tensor(st.expr):
                lines.append({"comment": st.comment,
                              "code": f"{tgt}.masked_fill_({spk}, {pr.doprint(st.expr)})"})
            else:
                lines.append({"comment": st.comment, "code":
                              f"{tgt}.copy_(torch.where({spk}, {pr.doprint(st.expr)}, {tgt}))"})
        if "lastspike" in pop.variables:
            lines.append({"comment": "lastspike = t (in steps)",
                          "code": f"{names['lastspike']}.masked_fill_({spk}, n)"})
        if "not_refractory" in pop.variables:
            lines.append({"comment": "refractory from now on",
                          "code": f"{names['not_refractory']}.masked_fill_({spk}, False)"})
        if not lines:
            return None
        return render("torch", "reset.j2", pop={"name": pop.name, "lines": lines})

    # ------------------------------------------------------------ synapses
    def temporary(self, printer: TorchPrinter, st: Statement) -> dict[str, str]:
        """``st`` (a temporary, e.g. a common subexpression) as a template line; the
        printer knows its name afterwards."""
        tensor = printer.is_tensor(st.expr)
        code = self.assign(printer, st.target, st.expr) + ("" if tensor else "  # scalar")
        if tensor:
            printer.tensors.add(st.target)
        printer.names[st.target] = st.target
        comment = "" if st.comment == "common subexpression" else st.comment
        return {"comment": comment, "code": code}

    def synapse_update(self, pr: ir.Projection) -> str | None:
        """The clock-driven equations of a projection, for every synapse ([batch, S]
        tensors): the pre/post variables they read are gathered per synapse first."""
        if not pr.clock_update:
            return None
        names: dict[str, str] = {}
        tensors: set[str] = set()
        for k in pr.variables:
            names[k] = self.bind_state(pr.name, k)
            tensors.add(k)
        names["t"] = self.time_name(pr.time_scale)
        shape = self.local(pr.name, role="shape")
        line = f"{shape} = ({self.B}, {pr.n_synapses})"
        if line not in self.bindings:
            self.bindings.append(line)
        used = {sy.name for st in pr.clock_update for sy in st.expr.free_symbols}
        gathers: list[dict[str, str]] = []
        for side, pop_name, index in (("pre", pr.pre, pr.i), ("post", pr.post, pr.j)):
            for k in self.p.populations[pop_name].variables:
                sname = f"{k}_{side}"
                if sname not in used:
                    continue
                idx = self.bind_array(pr.name, "i" if side == "pre" else "j", index)
                names[sname] = f"_{sname}"
                tensors.add(sname)
                gathers.append({"comment": f"{sname}: {pop_name}.{k} of each synapse's "
                                           f"{side}synaptic neuron",
                                "code": f"_{sname} = {self.bind_state(pop_name, k)}"
                                        f".index_select(1, {idx})"})
        for k, index in (("i", pr.i), ("j", pr.j)):
            if k in used:  # [batch, S] like the state (in-place sums need the full shape)
                names[k] = self.bind_array(pr.name, f"{k}_value", np.tile(
                    index.astype(np.float64), (self.B, 1)))
                tensors.add(k)
        printer = TorchPrinter(names, tensors, rand_shape=shape, constant=self.const)
        state_vars = {o.name for o in pr.clock_odes}
        lines: list[dict[str, str]] = []
        commits: list[dict[str, str]] = []
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
                lines.append({"comment": st.comment,
                              "code": self.assign(printer, f"_new_{st.target}", st.expr)})
                code = f"{tgt}.copy_(_new_{st.target})"
            commits.append({"comment": st.comment, "code": code})
        return render("torch", "synapse_update.j2", syn={
            "name": pr.name, "pre": pr.pre, "post": pr.post, "n_syn": pr.n_synapses,
            "method": pr.clock_method_used or "-",
            "equations": [o.text for o in pr.clock_odes],
            "subexpressions": list(pr.subexpression_texts.values()),
            "lines": gathers + lines + commits})

    def pathway(self, pr: ir.Projection, direction: str) -> str | None:
        statements = pr.on_pre if direction == "on_pre" else pr.on_post
        if not statements or pr.n_synapses == 0:  # no synapse: nothing to deliver
            return None
        src = pr.pre if direction == "on_pre" else pr.post
        src_index = pr.i if direction == "on_pre" else pr.j
        n_src = self.p.populations[src].size
        n_pre = self.p.populations[pr.pre].size
        n_post = self.p.populations[pr.post].size
        S = pr.n_synapses
        B = self.B
        delays = (pr.delay if direction == "on_pre" else np.zeros(1, np.int64))
        pre_arr = self.bind_array(pr.name, "i", pr.i)
        post_arr = self.bind_array(pr.name, "j", pr.j)
        ones = self.bind_array(pr.name, "ones", np.ones(max(S * B, 1), dtype=np.float64))
        # names in the event code
        syn_names: dict[str, str] = {}
        for k in pr.variables:
            syn_names[k] = self.bind_state(pr.name, k, flat=True)
        pre_pop, post_pop = self.p.populations[pr.pre], self.p.populations[pr.post]
        side_flat = {}
        for side, pop in (("pre", pre_pop), ("post", post_pop)):
            for k in pop.variables:
                side_flat[f"{k}_{side}"] = self.bind_state(pop.name, k, flat=True)
        groups = []
        uniq = np.unique(delays)
        fast = None if pr.update else self.constant_additive(pr, statements, direction)
        for gk, d in enumerate(uniq):
            sel = np.arange(S) if delays.size == 1 else np.nonzero(delays == d)[0]
            ell, full = ell_table(src_index[sel], sel, n_src)
            lines: list[str] = []
            if d == 0:
                lines.append(f"_idx = {self.local(src, role='idx')}")
            else:
                L = self.hist_len[src]
                lines.append(f"_idx = {self.local(src, '_spike_history')}[(n - {int(d)}) % {L}]"
                             ".nonzero().squeeze(1)")
            lines.append("if _idx.numel():")
            body: list[str] = []
            if fast is not None:
                # every statement adds a constant to a target-side variable: gather the
                # target indices of all synapses of the spiking neurons at once (padding
                # entries add 0 to element 0)
                tgt_index = pr.j if direction == "on_pre" else pr.i
                tgt_ell = np.where(ell >= 0, tgt_index[np.maximum(ell, 0)], 0)
                t_name = self.bind_array(pr.name, f"{direction}_target_ell{gk}", tgt_ell)
                n_tgt = n_post if direction == "on_pre" else n_pre
                if B == 1:
                    body.append(f"_tgt = {t_name}[_idx].view(-1)")
                else:
                    body.append(f"_tgt = ({t_name}[_idx % {n_src}] + (_idx // {n_src})"
                                f"[:, None] * {n_tgt}).view(-1)")
                if full:
                    val = f"{ones}[:_tgt.shape[0]]"
                else:
                    v_name = self.bind_array(pr.name, f"{direction}_valid_ell{gk}",
                                             (ell >= 0).astype(np.float64))
                    body.append(f"_val = {v_name}[_idx{'' if B == 1 else f' % {n_src}'}]"
                                ".view(-1)")
                    val = "_val"
                for st, flat, value in fast:
                    sign = "-" if st.op == "-=" else ""
                    body.append(f"# {comment_text(st.comment or st)}")
                    body.append(f"{flat}.index_add_(0, _tgt, {val}, alpha={sign}({value}))")
                lines += ["    " + b for b in body]
                groups.append({"delay": int(d), "n_syn": int(sel.size), "lines": lines})
                continue
            ell_name = self.bind_array(pr.name, f"{direction}_ell{gk}", ell)
            code = self.event_code(pr, statements, syn_names, side_flat, ones)
            used = "\n".join(code)
            if B == 1:
                body.append(f"_syn = {ell_name}[_idx]")
                body.append("_syn = _syn[_syn >= 0]" if not full else "_syn = _syn.view(-1)")
                if "_pre" in used:
                    body.append(f"_pre = {pre_arr}[_syn]")
                if "_post" in used:
                    body.append(f"_post = {post_arr}[_syn]")
                if "_sidx" in used:
                    body.append("_sidx = _syn")
            else:
                body.append(f"_b = _idx // {n_src}")
                body.append(f"_syn = {ell_name}[_idx % {n_src}]")
                body.append("_b = _b[:, None].expand_as(_syn)")
                if not full:
                    body += ["_keep = _syn >= 0", "_syn = _syn[_keep]", "_b = _b[_keep]"]
                else:
                    body += ["_syn = _syn.reshape(-1)", "_b = _b.reshape(-1)"]
                if "_pre" in used:
                    body.append(f"_pre = {pre_arr}[_syn] + _b * {n_pre}")
                if "_post" in used:
                    body.append(f"_post = {post_arr}[_syn] + _b * {n_post}")
                if "_sidx" in used:
                    body.append(f"_sidx = _syn + _b * {S}")
            body.append("_k = _syn.shape[0]")
            body += code
            lines += ["    " + b for b in body]
            groups.append({"delay": int(d), "n_syn": int(sel.size), "lines": lines})
        text = pr.on_pre_text if direction == "on_pre" else pr.on_post_text
        source_lines = [f"{direction}: {ln.strip()}" for ln in text.strip().splitlines()]
        return render("torch", "synapses.j2", path={
            "name": pr.name, "pre": pr.pre, "post": pr.post, "n_syn": S,
            "direction": f"{direction} (spikes of {src})", "source_lines": source_lines,
            "groups": groups})

    def constant_additive(self, pr: ir.Projection, statements: list[Statement],
                          direction: str) -> list[tuple[Statement, str, str]] | None:
        """If every statement adds a constant to a variable of the target side (post for
        on_pre, pre for on_post), the (statement, flat target, printed value) list."""
        side = "_post" if direction == "on_pre" else "_pre"
        pop = self.p.populations[pr.post if direction == "on_pre" else pr.pre]
        printer = TorchPrinter({"t": self.time_name(pr.time_scale)}, set(), "(_k,)")
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
                   syn_names: dict[str, str], side_flat: dict[str, str], ones: str
                   ) -> list[str]:
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
        printer = TorchPrinter(names, tensors, rand_shape="(_k,)")
        lines = []
        if pr.update:
            last = syn_names["lastupdate"]
            printer.names["_elapsed"] = "_elapsed"
            printer.tensors.add("_elapsed")
            lines.append(f"# event-driven ({pr.method_used}): advance to t from the last event")
            for o in pr.odes:
                lines.append(f"#   {comment_text(o.text)}")
            lines.append(f"_elapsed = (n - {last}[_sidx]).to(DTYPE) * "
                         f"{self.p.dt * pr.time_scale!r}")
            for st in pr.update:
                if st.target.startswith("_"):
                    printer.names[st.target] = st.target
                    printer.tensors.add(st.target)
                    lines.append(f"{st.target} = {printer.doprint(st.expr)}")
                else:
                    lines.append(f"{syn_names[st.target]}.index_put_((_sidx,), "
                                 f"{printer.doprint(st.expr)})")
        for st in statements:
            lines.append(f"# {comment_text(st.comment or st)}")
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
                    lines.append(f"{flat}.index_add_(0, {index}, {value}{alpha})")
                else:
                    lines.append(f"{flat}.index_add_(0, {index}, {ones}[:_k], "
                                 f"alpha={sign}({value}))")
            elif st.op == "=":
                if tensor:
                    lines.append(f"{flat}.index_put_(({index},), {value})")
                else:
                    lines.append(f"{flat}.index_fill_(0, {index}, {value})")
            else:  # *=, /=
                v = value if tensor else f"{ones}[:_k] * ({value})"
                if st.op == "/=":
                    v = f"1.0 / ({v})"
                lines.append(f"{flat}.index_reduce_(0, {index}, {v}, 'prod')")
        if pr.update:
            lines.append(f"{syn_names['lastupdate']}.index_fill_(0, _sidx, n)")
        return lines

    # ------------------------------------------------------------ monitors
    def monitor(self, m: ir.Monitor) -> str | None:
        pop = self.p.populations[m.target]
        lines = []
        if m.kind in ("spike", "rate"):
            lines.append(f'rec["{m.name}"].append((n, {self.local(pop.name, role="idx")}))')
        else:
            pr, names = self.pop_printer(pop)
            rec = m.record if m.record is not None else np.arange(pop.size)
            all_ = rec.size == pop.size and np.array_equal(rec, np.arange(pop.size))
            idx = None if all_ else self.bind_array(m.name, "record", rec.astype(np.int64))
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
                lines.append(f'rec["{m.name}.{v}"].append({code})')
        return render("torch", "monitors.j2", mon={"name": m.name, "kind": m.kind,
                                                   "target": m.target, "lines": lines})

    # ------------------------------------------------------------ schedules
    def brian2_blocks(self) -> list[str | None]:
        """Brian2's order: state monitors (start of step), all state updates, all
        thresholds (and spike monitors), all on_pre pathways, all on_post, all resets."""
        p = self.p
        pops = list(p.populations.values())
        blocks: list[str | None] = []
        blocks += [self.monitor(m) for m in p.monitors.values() if m.kind == "state"]
        blocks += [self.state_update(pop) for pop in pops]
        # clock-driven synaptic equations: with the state updates (Brian2's "groups"
        # slot), after the neurons', before thresholds take effect (events, resets)
        blocks += [self.synapse_update(pr) for pr in p.projections.values()]
        blocks += [self.threshold(pop) for pop in pops]
        blocks += [self.monitor(m) for m in p.monitors.values() if m.kind != "state"]
        for pr in p.projections.values():
            blocks.append(self.pathway(pr, "on_pre"))
        for pr in p.projections.values():
            blocks.append(self.pathway(pr, "on_post"))
        blocks += [self.reset(pop) for pop in pops]
        return blocks

    def layered_blocks(self) -> list[str | None]:
        """The ``"layered"`` order: state monitors (start of step), then one population
        at a time in ``Program.order``: its state update, the clock-driven equations of
        the projections into it, its threshold (and spike monitors), its outgoing on_pre
        pathways, the on_post pathways of the projections into it, its reset, and then
        the pathways of its self-projections (so that they act from the next step on,
        as every other recurrent projection does)."""
        p = self.p
        projections = list(p.projections.values())
        blocks: list[str | None] = [self.monitor(m) for m in p.monitors.values()
                                    if m.kind == "state"]
        order = layered_order(p)
        for k, name in enumerate(order):
            pop = p.populations[name]
            blocks.append(f"        # ######## {k + 1}/{len(order)}: "
                          f"{comment_text(f'{name} ({layer_reason(p, name)})')} ########")
            blocks.append(self.state_update(pop))
            blocks += [self.synapse_update(pr) for pr in projections if pr.post == name]
            blocks.append(self.threshold(pop))
            blocks += [self.monitor(m) for m in p.monitors.values()
                       if m.kind != "state" and m.target == name]
            before, after = slot_pathways(p, name)
            blocks += [self.pathway(pr, d) for pr, d in before]
            blocks.append(self.reset(pop))
            blocks += [self.pathway(pr, d) for pr, d in after]
        return blocks

    # ------------------------------------------------------------ module
    def generate(self) -> Generated:
        p = self.p
        pops = list(p.populations.values())
        blocks = self.layered_blocks() if p.schedule == "layered" else self.brian2_blocks()
        scales = {pop.time_scale for pop in pops}
        self.out.source = render(
            "torch", "network.py.j2", net_name="network", dt_ms=f"{p.dt * 1e3:g}",
            dt_s=repr(p.dt), dt_ms_exact=repr(p.dt * 1e3), batch=p.batch,
            passes=" -> ".join(p.passes) or "none", bindings=self.bindings,
            schedule=schedule_notes(p),
            need_t_ms=self.need_t_ms or 1000.0 in scales,
            blocks=[b.strip("\n") for b in blocks if b])
        self.out.source = self.out.source.replace("import torch\n",
                                                  "import numpy as np\nimport torch\n", 1)
        return self.out


def generate(program: ir.Program) -> Generated:
    """Generate the torch module for ``program`` (after the passes)."""
    return _Gen(program).generate()
