"""Torch code generation for multi-step layers: a :class:`~snncc.ir.layer.LayerStep`
(after autodiff) -> the source of a module with ``forward`` (loop over T) and
``backward`` (reverse loop), rendered from ``templates/torch/layer.py.j2``. Runs on any
device; the reference the Triton kernels are tested against."""

from __future__ import annotations

from snncc.backends.common import LayerCode, Line, layer_header, layer_names
from snncc.backends.templating import render
from snncc.backends.torch.contexts import LayerContext, LayerTensor, SavedValue
from snncc.backends.torch.printer import TorchPrinter
from snncc.ir.layer import LayerStep, h
from snncc.ir.statements import Statement


def local(name: str) -> str:
    """The Python local holding model symbol ``name`` (user names get a prefix, so no
    user name can shadow a name of the generated code)."""
    return name if name.startswith("_") else f"m_{name}"


def _line(pr: TorchPrinter, st: Statement) -> Line:
    target = pr.names.get(st.target, local(st.target))
    value = pr.doprint(st.expr)
    code = f"{target} = {target} + ({value})" if st.op == "+=" else f"{target} = {value}"
    return Line(code, "" if st.comment == "common subexpression" else st.comment)


def generate_layer(step: LayerStep) -> LayerCode:
    """The torch source of ``step`` (see module docstring)."""
    names = layer_names(step, local)
    pr = TorchPrinter(names, set(names))
    aux = step.aux
    fwd: list[Line] = [_line(pr, st) for st in step.gate]  # refractoriness: _nr
    fwd += [_line(pr, st) for st in step.update]
    fwd += [_line(pr, st) for st in step.holds]
    op = ">" if step.strict else ">="
    fwd.append(Line(f"_sg = {pr.doprint(step.threshold_arg)}",
                    f"threshold: {step.threshold_text}"))
    fwd.append(Line(f"_s_b = (_sg {op} 0)" + (" & (_nrf > 0.5)" if step.gate else "")))
    reset: list[Line] = []
    for x in step.states:
        if x in step.reset:
            reset.append(Line(f"{local(x)} = {pr.helper('_where')}(_s_b, "
                              f"{pr.doprint(step.reset[x])}, {h(x)})", f"reset of {x}"))
        else:
            reset.append(Line(f"{local(x)} = {h(x)}"))
    for a, value in step.aux_reset.items():
        reset.append(Line(f"{a} = {pr.helper('_where')}(_s_b, {pr.doprint(value)}, {a})"))
    saved = [SavedValue(pr.doprint(v.expr) if v.name != "_nr" else "_nrf",
                        pr.names.get(v.name, local(v.name)), v.why) for v in step.saved]
    # the saved h values are loaded under their own names in the backward
    bwd = [_line(pr, st) for st in [*step.recompute, *step.backward]]
    source = render("torch", "layer.py.j2", c=LayerContext(
        header=layer_header(step), helpers=frozenset(pr.helpers), states=step.states,
        states_unpack=", ".join(local(x) for x in step.states)
        + ("," if len(step.states) == 1 else ""),
        aux=tuple(aux), tensors=[LayerTensor(k, local(k)) for k in step.tensors],
        trainable=tuple(step.trainable), saved=saved, input_local=local(step.input),
        reads_input=step.backward_reads_input, fwd=fwd, reset=reset, bwd=bwd,
        states_list=", ".join(local(x) for x in step.states),
        grad_states_list=", ".join(f"_g_{x}" for x in step.states)))
    return LayerCode(source=source, states=step.states, aux=aux,
                     saved=tuple(v.name for v in step.saved),
                     reads_input=step.backward_reads_input, tensors=tuple(step.tensors),
                     trainable=tuple(step.trainable))


__all__ = ["generate_layer", "local"]
