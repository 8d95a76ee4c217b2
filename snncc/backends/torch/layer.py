"""Torch code generation for multi-step layers: a :class:`~snncc.ir.layer.LayerStep`
(after autodiff) -> the source of a module with ``forward`` (loop over T) and
``backward`` (reverse loop), rendered from ``templates/torch/layer.py.j2``. Runs on any
device; the reference the Triton kernels are tested against."""

from __future__ import annotations

from snncc.backends.common import LayerCode, layer_aux, layer_header, layer_names
from snncc.backends.templating import render
from snncc.backends.torch.printer import TorchPrinter
from snncc.ir.layer import LayerStep, h
from snncc.ir.statements import Statement


def local(name: str) -> str:
    """The Python local holding model symbol ``name`` (user names get a prefix, so no
    user name can shadow a name of the generated code)."""
    return name if name.startswith("_") else f"m_{name}"


def _printer(step: LayerStep) -> TorchPrinter:
    names = layer_names(step, local)
    return TorchPrinter(names, set(names))


def _line(pr: TorchPrinter, st: Statement) -> dict[str, str]:
    target = local(st.target)
    value = pr.doprint(st.expr)
    code = f"{target} = {target} + ({value})" if st.op == "+=" else f"{target} = {value}"
    comment = "" if st.comment == "common subexpression" else st.comment
    return {"comment": comment, "code": code}


def generate_layer(step: LayerStep) -> LayerCode:
    """The torch source of ``step`` (see module docstring)."""
    pr = _printer(step)
    aux = layer_aux(step)
    fwd: list[dict[str, str]] = []
    if step.refractory_steps is not None:
        k = step.refractory_steps
        fwd.append({"comment": f"refractory for {k} steps after a spike",
                    "code": f"_since = torch.clamp(_since + 1.0, max={float(k)!r})"})
        fwd.append({"comment": "", "code": f"_nr_b = _since >= {float(k)!r}"})
    elif step.refractory_condition is not None:
        cond = pr.doprint(step.refractory_condition)
        fwd.append({"comment": "refractory until the condition releases the neuron",
                    "code": f"_notref = torch.where(~({cond}), torch.ones_like(_notref), "
                            "_notref)"})
        fwd.append({"comment": "", "code": "_nr_b = _notref > 0.5"})
    if step.refractory:
        fwd.append({"comment": "", "code": "_nrf = _nr_b.to(DTYPE)"})
    for st in step.update:
        fwd.append(_line(pr, st))
    for x in step.unless_refractory:
        fwd.append({"comment": f"{x} is clamped while refractory",
                    "code": f"{h(x)} = torch.where(_nr_b, {h(x)}, "
                            f"{pr.doprint(step.held(x))})"})
    g = pr.doprint(step.threshold_arg)
    op = ">" if step.strict else ">="
    fwd.append({"comment": f"threshold: {step.threshold_text}", "code": f"_sg = {g}"})
    fwd.append({"comment": "", "code": f"_s_b = (_sg {op} 0)" + (" & _nr_b" if step.refractory
                                                                  else "")})
    reset: list[dict[str, str]] = []
    for x in step.states:
        if x in step.reset:
            reset.append({"comment": f"reset of {x}",
                          "code": f"{local(x)} = _where(_s_b, {pr.doprint(step.reset[x])}, "
                                  f"{h(x)})"})
        else:
            reset.append({"comment": "", "code": f"{local(x)} = {h(x)}"})
    if step.refractory_steps is not None:
        reset.append({"comment": "", "code": "_since = torch.where(_s_b, torch.zeros_like("
                                             "_since), _since)"})
    elif step.refractory_condition is not None:
        reset.append({"comment": "", "code": "_notref = torch.where(_s_b, torch.zeros_like("
                                             "_notref), _notref)"})
    saved = [{"code": pr.doprint(v.expr) if v.name != "_nr" else "_nrf",
              "local": pr.names.get(v.name, local(v.name)), "why": v.why}
             for v in step.saved]
    # the saved h values are loaded under their own names in the backward
    bwd = [_line(pr, st) for st in [*step.recompute, *step.backward]]
    tensors = [{"name": k, "local": local(k)} for k in step.tensors]
    states = [{"name": x} for x in step.states]
    source = render(
        "torch", "layer.py.j2",
        s=layer_header(step),
        states_unpack=", ".join(local(x) for x in step.states) + ("," if len(step.states) == 1
                                                                  else ""),
        states_list=", ".join(local(x) for x in step.states),
        aux=list(aux), aux_list=", ".join(aux), tensors=tensors,
        trainable=step.trainable, n_saved=len(step.saved), saved=saved,
        input_local=local(step.input), fwd=fwd, reset=reset, bwd=bwd,
        reads_input=step.backward_reads_input, states=states,
        grad_states_list=", ".join(f"_g_{x}" for x in step.states))
    return LayerCode(source=source, states=step.states, aux=aux,
                     saved=tuple(v.name for v in step.saved),
                     reads_input=step.backward_reads_input, tensors=tuple(step.tensors),
                     trainable=tuple(step.trainable))


__all__ = ["generate_layer", "local"]
