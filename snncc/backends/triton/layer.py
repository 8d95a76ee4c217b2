"""Triton code generation for multi-step layers: a :class:`~snncc.ir.layer.LayerStep`
(after autodiff) -> the source of a module with two fused kernels, rendered from
``templates/triton/layer.j2``.

* The forward kernel owns ``BLOCK`` of the ``B*N`` (batch, neuron) elements: it loads the
  initial state once, keeps it in registers over the ``T`` steps (one load of the input,
  one store of the spike and of each saved value per step) and stores the final state.
* The backward kernel runs the same elements through the reverse time loop: it carries
  the gradients with respect to the state in registers, accumulates the parameter
  gradients per element and stores the gradient of the input per step.

The semantics are those of the torch layer (:mod:`snncc.backends.torch.layer`), which
the tests compare against. Names in a kernel: the model's names get the prefix ``m_``,
the IR's names (starting with ``_``) are kept, the kernel's own locals end with ``_``;
pointer arguments end with ``_ptr`` and start with a prefix of their family (``state_``,
``final_``, ``param_``, ``aux_``, ``gfinal_``, ``ginit_``, ``gparam_``, no one the start
of another) or are fixed names (``x_ptr``, ``spikes_ptr``, ``saved<k>_ptr``, ...).
"""

from __future__ import annotations

import functools
import re

import sympy

from snncc.backends.common import LayerCode, Line, layer_header, layer_names
from snncc.backends.templating import render
from snncc.backends.triton.contexts import (
    LayerAux,
    LayerContext,
    LayerParam,
    LayerSaved,
    LayerState,
)
from snncc.backends.triton.printer import TritonPrinter
from snncc.ir.layer import LayerStep, h
from snncc.ir.statements import Statement

# names of the generated module an IR name (starting with "_") must not shadow
_MODULE_NAMES = frozenset({"_m"})


def local(name: str) -> str:
    """The kernel local holding model symbol ``name`` (user names get a prefix, so no
    user name can shadow a name of the generated code)."""
    if name.startswith("_"):
        return f"{name}__" if name in _MODULE_NAMES else name
    return f"m_{name}"


def _uid(name: str) -> str:
    """A pointer-argument-safe form of ``name`` (``_since`` -> ``since``)."""
    return name.lstrip("_") or "x"


# ------------------------------------------------------------------ launch sizes
def launch_config(lanes: int, device: object, per_thread: int, dtype: object = None
                  ) -> tuple[int, int]:
    """``(BLOCK, num_warps)`` of a layer kernel over ``lanes`` elements of ``dtype``.

    In Triton's interpreter every program costs about a millisecond whatever its size,
    so one program takes all lanes (up to 65536). On a GPU a program is 4 warps with
    ``per_thread`` elements per thread (half as many in float64, whose values take two
    registers each; ``128 * per_thread`` lanes, 1024 for small float32 models), halved
    down to 128 lanes while that leaves fewer than two programs per streaming
    multiprocessor. ``tests/test_triton_aot.py`` checks that no float32 kernel spills."""
    from snncc.kernels import import_triton, interpreting

    triton = import_triton()
    if interpreting():
        return min(triton.next_power_of_2(max(lanes, 1)), 1 << 16), 1
    if getattr(dtype, "itemsize", 4) == 8:
        per_thread = max(1, per_thread // 2)
    block = 128 * per_thread
    sms = _multiprocessors(str(device))
    while block > 128 and triton.cdiv(lanes, block) < 2 * sms:
        block //= 2
    return block, 4


@functools.cache
def _multiprocessors(device: str) -> int:
    import torch

    try:
        return int(torch.cuda.get_device_properties(torch.device(device))
                   .multi_processor_count)
    except (AssertionError, RuntimeError, ValueError):  # not a CUDA device
        return 1


_OPS = re.compile(r"[-+*/]|\b(?:tl|_m)\.\w+\(")  # arithmetic and calls in a printed line


def _per_thread(lines: list[Line]) -> int:
    """Elements per GPU thread: fewer for kernels with more arithmetic per step (more
    live registers; on sm_90 the COBA backward, ~160 operations, takes ~90 registers in
    float32 at 4 elements a thread, Hodgkin-Huxley's, ~750, ~180 at 2)."""
    ops = sum(len(_OPS.findall(ln.code)) for ln in lines)
    return 8 if ops <= 64 else 4 if ops <= 256 else 2 if ops <= 1024 else 1


# ------------------------------------------------------------------ printing
class _Body:
    """The lines of one kernel body being written, with what is a block (one value per
    lane) rather than a scalar (numbers, shared parameters and what follows from them
    alone): values that are stored or carried over steps must be blocks."""

    def __init__(self, pr: TritonPrinter, blocks: set[str]) -> None:
        self.pr = pr
        self.blocks = set(blocks)
        self.lines: list[Line] = []
        self.uses_zero = False

    def is_block(self, expr: sympy.Basic) -> bool:
        return any(s.name in self.blocks for s in expr.free_symbols)

    def value(self, expr: sympy.Basic, block: bool = False) -> str:
        """``expr`` printed; broadcast to a block if ``block`` and it is a scalar."""
        code = self.pr.doprint(expr)
        if block and not self.is_block(expr):
            self.uses_zero = True
            return f"zero_ + ({code})"
        return code

    def add(self, code: str, comment: str = "") -> None:
        self.lines.append(Line(code, comment))

    def statement(self, st: Statement, block: bool = False) -> None:
        target = self.pr.names.get(st.target, local(st.target))
        if st.op == "+=":
            code = f"{target} = {target} + ({self.pr.doprint(st.expr)})"
        else:
            code = f"{target} = {self.value(st.expr, block)}"
        if self.is_block(st.expr) or block or st.op == "+=" and st.target in self.blocks:
            self.blocks.add(st.target)
        self.add(code, "" if st.comment == "common subexpression" else st.comment)


def _printer(step: LayerStep) -> TritonPrinter:
    names = layer_names(step, local)
    return TritonPrinter(names)


def _forward(step: LayerStep, pr: TritonPrinter, per_neuron: set[str]
             ) -> tuple[_Body, list[str], _Body]:
    """The forward step: (lines up to the spike, the code of each saved value, reset
    lines)."""
    blocks = {*step.states, *(h(x) for x in step.states), step.input, *per_neuron, "_nr",
              *step.aux}
    body = _Body(pr, blocks)
    for st in step.gate:  # refractoriness: the bookkeeping states and the mask _nr
        body.statement(st, block=True)
    hs = {h(x) for x in step.states}
    for st in step.update:
        body.statement(st, block=st.target in hs)
    for st in step.holds:
        body.statement(st, block=True)
    body.add(f"_sg = {body.value(step.threshold_arg, block=True)}",
             f"threshold: {step.threshold_text}")
    op = ">" if step.strict else ">="
    body.add(f"_s_b = (_sg {op} 0.0)" + (" & (_nrf > 0.5)" if step.gate else ""))
    saved = [v.name if v.name == "_sg" else "_nrf" if v.name == "_nr"
             else body.value(v.expr, block=True) for v in step.saved]
    reset = _Body(pr, body.blocks)
    for x in step.states:
        if x in step.reset:
            reset.add(f"{local(x)} = tl.where(_s_b, {pr.doprint(step.reset[x])}, {h(x)})",
                      f"reset of {x}")
        else:
            reset.add(f"{local(x)} = {h(x)}")
    for a, value in step.aux_reset.items():
        reset.add(f"{a} = tl.where(_s_b, {body.value(value, block=True)}, {a})")
    return body, saved, reset


def _backward(step: LayerStep, pr: TritonPrinter, per_neuron: set[str]) -> _Body:
    """The backward step: recompute, then the chain rule."""
    blocks = {"_g_s", *(f"_g_{x}" for x in step.states), *per_neuron,
              *(f"_gp_{p}" for p in step.trainable), *(v.name for v in step.saved)}
    if step.backward_reads_input:
        blocks.add(step.input)
    body = _Body(pr, blocks)
    carried = {"_g_in", *(f"_gn_{x}" for x in step.states)}
    for st in [*step.recompute, *step.backward]:
        body.statement(st, block=st.target in carried)
    return body


def generate_layer(step: LayerStep) -> LayerCode:
    """The Triton source of ``step`` (see module docstring)."""
    pr = _printer(step)
    aux = step.aux
    per_neuron = {k for k, t in step.tensors.items() if not t.shared}
    fwd, saved, reset = _forward(step, pr, per_neuron)
    bwd = _backward(step, pr, per_neuron)
    saved_locals = {"_nr": "_nrf"}
    c = LayerContext(
        header=layer_header(step),
        states=tuple(LayerState(x, local(x), f"state_{x}_ptr", f"final_{x}_ptr",
                                f"gfinal_{x}_ptr", f"ginit_{x}_ptr") for x in step.states),
        aux=tuple(LayerAux(a, a, f"aux_{_uid(a)}_ptr", f"aux_{_uid(a)}_out_ptr")
                  for a in aux),
        tensors=tuple(LayerParam(k, local(k), f"param_{k}_ptr", t.shared, t.trainable,
                                 f"gparam_{k}_ptr") for k, t in step.tensors.items()),
        saved=tuple(LayerSaved(v.name, saved_locals.get(v.name, pr.names.get(
            v.name, local(v.name))), f"saved{i}_ptr", code, v.why)
            for i, (v, code) in enumerate(zip(step.saved, saved))),
        input_name=step.input, input_local=local(step.input),
        reads_input=step.backward_reads_input,
        fwd=tuple(fwd.lines), reset=tuple(reset.lines), bwd=tuple(bwd.lines),
        fwd_zero=fwd.uses_zero or reset.uses_zero, bwd_zero=bwd.uses_zero,
        fwd_per_thread=_per_thread(fwd.lines + reset.lines),
        bwd_per_thread=_per_thread(bwd.lines))
    source = render("triton", "layer.j2", c=c)
    return LayerCode(source=source, states=step.states, aux=aux,
                     saved=tuple(v.name for v in step.saved),
                     reads_input=step.backward_reads_input, tensors=tuple(step.tensors),
                     trainable=tuple(step.trainable))


__all__ = ["generate_layer", "launch_config", "local"]
