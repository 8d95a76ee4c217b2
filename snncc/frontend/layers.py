"""Multi-step layers from neuron models (:func:`layer`, :class:`Layer`): the model is
lowered as a one-group program whose input variable and tensor parameters stay variables
(not folded into constants), optimised, differentiated by the autodiff pass and handed to
the runtime's :class:`~snncc.runtime.layer.CompiledLayer`.

Units: ``dt`` is a number in ms for models with units (in the model's own time unit for
unitless ones, where the default ``dt = 1`` is one step, as in SpikingJelly) or a time
Quantity. Values of tensors are in the model's units: SI for models with units.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from snncc.errors import (
    ModelError,
    ParameterError,
    ShapeError,
    UnknownNameError,
)
from snncc.frontend.models import NeuronModel, check_given, is_unit_aware
from snncc.frontend.network import Network, NeuronGroup, _resolve_model
from snncc.ir import program as ir
from snncc.ir import surrogates
from snncc.ir.layer import LayerTensor
from snncc.passes import optimize
from snncc.passes.autodiff import autodiff
from snncc.passes.layer import layer_step
from snncc.runtime.layer import CompiledLayer
from snncc.units import Quantity, get_dimension, get_value, time_to_seconds


def resolve_model(model: NeuronModel | str, threshold: str | None, reset: str | None,
                  params: Mapping[str, object] | None, method: str | None,
                  input: str) -> NeuronModel:
    """The model of a layer: a NeuronModel, a library name or equations (a declared
    input is added to unitless equations that use but do not declare it)."""
    if isinstance(model, str) and ("=" in model or ":" in model):
        text = model
        # scalar defaults only: arrays and tensors become layer tensors (lower_layer)
        params = {k: v for k, v in dict(params or {}).items()
                  if not isinstance(v, torch.Tensor) and np.ndim(get_value(v)) == 0}
        m = NeuronModel(text, threshold=threshold, reset=reset, params=dict(params or {}),
                        name="custom")
        declared = set(m.equations.equations)
        if input not in declared and not is_unit_aware(m.equations, m.params):
            m = NeuronModel(text + f"\n{input} : 1  # the layer's input", threshold=threshold,
                            reset=reset, params=dict(params or {}), name="custom")
        return _resolve_model(m, None, None, None, method)
    m = _resolve_model(model, threshold, reset, None, method)
    return m


def _value(name: str, value: object) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64).numpy()
    try:
        return np.asarray(get_value(value), dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"layer parameter '{name}': expected a number, a Quantity or an "
                             f"array, got {type(value).__name__}") from None


def _representative(value: object, number: float, default: object) -> object:
    """A single value standing for ``value`` (a tensor or array of values in SI): with
    the dimension of ``value`` if it is a Quantity, else of the model's default."""
    if isinstance(value, Quantity):
        return Quantity(number, get_dimension(value))
    if isinstance(default, Quantity):
        return Quantity(number, get_dimension(default))
    return number


def lower_layer(model: NeuronModel, *, input: str, params: Mapping[str, object],
                trainable: Mapping[str, str], size: tuple[int, ...] | None,
                dt: float | Quantity, init: Mapping[str, object] | None,
                owner: str) -> tuple[ir.Program, dict[str, LayerTensor], float]:
    """``(program, tensors, dt_model)``: the one-population program of the layer (before
    passes), its tensor parameters, and the step in the model's time unit."""
    eqs = model.equations
    declared = eqs.equations
    if input not in declared:
        known = ", ".join([e.name for e in eqs.parameters] + [e.name for e in eqs.diff])
        raise UnknownNameError(f"{owner}: the input drives '{input}', which the model does "
                               f"not declare; declare it as a parameter ('{input} : <unit>') "
                               f"or pass input= one of the model's parameters or state "
                               f"variables ({known})")
    if declared[input].kind == "sub":
        raise ModelError(f"{owner}: the input must drive a parameter or a state variable of "
                         f"the model, but '{input}' is a subexpression; add a parameter (e.g. "
                         "'I : 1') and use it in the equation")
    if "shared" in declared[input].flags:
        raise ModelError(f"{owner}: the input '{input}' is declared (shared); an input has "
                         "one value per neuron, remove the flag")
    check_given(owner, eqs, params, model.parameter_names(), dict(init or {}))
    all_params = {**model.params, **dict(params)}
    texts = [re.sub(r"#[^\n]*", "", eqs.text), model.threshold or "", model.reset or "",
             model.refractory if isinstance(model.refractory, str) else ""]
    for reserved, meaning in (("N", "the number of neurons"), ("i", "the neuron index")):
        if reserved in all_params or any(re.search(rf"\b{reserved}\b", t) for t in texts):
            raise ModelError(f"{owner}: the model uses '{reserved}', which in snncc means "
                             f"{meaning} of a group; a layer has no fixed group, so rename it")
    n_neurons = int(np.prod(size)) if size is not None else 1
    tensors: dict[str, LayerTensor] = {}
    group_params: dict[str, object] = {}
    for name, value in dict(params).items():
        arr = _value(name, value)
        if arr.ndim > 0 and arr.size > 1:
            if size is None:
                raise ShapeError(f"{owner}: parameter '{name}' has {arr.size} values, so the "
                                 "layer needs size= (the neuron shape, e.g. size=128 or "
                                 "size=(16, 28, 28))")
            try:
                full = np.broadcast_to(arr, size).reshape(-1).copy()
            except ValueError:
                raise ShapeError(f"{owner}: parameter '{name}' has shape {arr.shape}, which "
                                 f"does not broadcast to the neuron shape {size}") from None
            tensors[name] = LayerTensor(name, False, name in trainable, full)
            # one representative value keeps the model's unit checking
            group_params[name] = _representative(value, float(arr.reshape(-1)[0]),
                                                 model.params.get(name))
        else:
            group_params[name] = (_representative(value, float(arr), model.params.get(name))
                                  if isinstance(value, torch.Tensor) else value)
    known = set(all_params) | {e.name for e in eqs.parameters}
    for name, kind in trainable.items():
        if name not in known:
            raise UnknownNameError(f"{owner}: trainable parameter '{name}' is not a parameter "
                                   f"of the model; its parameters: {', '.join(sorted(known))}")
        if name == input:
            raise ParameterError(f"{owner}: '{name}' is the input, not a parameter to train")
        if kind not in ("shared", "neuron"):
            raise ParameterError(f"{owner}: trainable parameter '{name}': expected 'shared' "
                                 f"or 'neuron', got {kind!r}")
        if kind == "neuron" and size is None:
            raise ShapeError(f"{owner}: '{name}' is trained per neuron, so the layer needs "
                             "size= (the neuron shape, e.g. size=128)")
    net = Network(dt=dt, seed=0, name=f"{owner} lowering")
    with net:
        NeuronGroup(2, model, params=group_params, init=dict(init or {}), name="layer")
    program = net.lower()
    pop = program.populations["layer"]
    variables = dict(pop.variables)
    constants = dict(pop.constants)

    def as_variable(name: str) -> float:
        if name in variables:
            v = variables[name]
            value = float(np.asarray(v.init, dtype=np.float64).reshape(-1)[0])
            dim = v.dim
        elif name in constants:
            value = constants.pop(name)
            dim = None
        else:  # a declared (shared) parameter folded in by the scope
            raise ModelError(f"{owner}: '{name}' is declared (shared) in the model, so it "
                             "cannot be a per-neuron tensor; remove the flag")
        variables[name] = ir.Variable(name, dim, "param", init=np.zeros(2))
        return value

    if declared[input].kind == "param":
        as_variable(input)
    for name, kind in trainable.items():
        value = as_variable(name)
        if name in tensors:
            tensors[name].trainable = True
            if kind == "shared":
                raise ShapeError(f"{owner}: '{name}' is trained as one shared value but was "
                                 "given one value per neuron; use trainable={'" + name
                                 + "': 'neuron'}")
        elif kind == "shared":
            tensors[name] = LayerTensor(name, True, True, np.array([value]))
        else:
            tensors[name] = LayerTensor(name, False, True, np.full(n_neurons, value))
    for name in tensors:
        if name not in trainable:
            as_variable(name)
    pop = pop.with_(variables=variables, constants=constants)
    program = program.with_(populations={"layer": pop})
    dt_model = float(time_to_seconds(dt, f"{owner}: dt")) * pop.time_scale
    return program, tensors, dt_model


def neuron_shape(size: int | Sequence[int] | None, owner: str) -> tuple[int, ...] | None:
    """``size`` as a tuple of positive ints (or None)."""
    if size is None:
        return None
    shape = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    if not shape or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                        for s in shape):
        raise ShapeError(f"{owner}: size must be a positive int or a tuple of them (the "
                         f"neuron shape after [T, batch]), got {size!r}")
    return tuple(int(s) for s in shape)


class Layer(CompiledLayer):
    """A multi-step spiking layer generated from a neuron model; see :func:`layer`.

    ``forward(x_seq)`` takes ``[T, batch, *size]`` (time first) and returns the spikes
    with the same shape and dtype. Without ``stateful``, every call starts from the
    model's initial values; with it, the final state carries over (detached) until
    :meth:`reset`.
    """

    def __init__(self, model: Any, *, surrogate: str = "sigmoid", alpha: float | None = None,
                 detach_reset: bool = False, input: str = "I", dt: float | Quantity = 1.0,
                 method: str | None = None, backend: str = "auto", threshold: str | None = None,
                 reset: str | None = None, params: Mapping[str, object] | None = None,
                 trainable: Sequence[str] | Mapping[str, str] = (),
                 size: int | Sequence[int] | None = None,
                 init: Mapping[str, object] | None = None,
                 saved_dtype: torch.dtype = torch.float32, stateful: bool = False,
                 name: str | None = None) -> None:
        t0 = time.perf_counter()
        owner = f"layer '{name}'" if name else "layer"
        surrogate = surrogates.resolve(surrogate)
        if isinstance(trainable, str):
            trainable = (trainable,)
        train = dict(trainable) if isinstance(trainable, Mapping) else \
            {k: "shared" for k in trainable}
        shape = neuron_shape(size, owner)
        m = resolve_model(model, threshold, reset, params, method, input)
        program, tensors, dt_m = lower_layer(m, input=input, params=dict(params or {}),
                                             trainable=train, size=shape, dt=dt, init=init,
                                             owner=owner)
        program = optimize(program, method=method)
        step = layer_step(program.populations["layer"], input=input, tensors=tensors,
                          dt=dt_m, owner=owner)
        super().__init__(autodiff(step, surrogate, alpha, detach_reset), tensors, size=shape,
                         model_name=m.name, input=input, backend=backend,
                         saved_dtype=saved_dtype, stateful=stateful, name=name,
                         compile_seconds=time.perf_counter() - t0)


def layer(model: Any, **options: Any) -> Layer:
    """A multi-step spiking layer (``nn.Module``) from a neuron model.

    Args:
        model: a :class:`~snncc.NeuronModel`, a library name (``"lif"``, ``"alif"``, ...)
            or the equations as a string (then give ``threshold=``, ``reset=``,
            ``params=``).
        surrogate: ``sigmoid`` (default), ``atan``, ``fast_sigmoid``, ``rectangle``,
            ``triangle``, ``gaussian``, ``piecewise_quadratic``, or a SPAIC learner name
            (``STCA``, ``STBP``); ``alpha``: its sharpness (per model unit of the
            threshold distance).
        detach_reset: no gradient through the reset's dependence on the spike.
        input: the model variable the input sequence drives (default ``"I"``; declared
            automatically as ``: 1`` in unitless equations that use but do not declare it).
        dt: the step, in ms for models with units or a time Quantity (default 1: one
            model time unit per step for unitless models, as in SpikingJelly).
        method: force the integrator (``exact``, ``euler``, ...).
        backend: ``auto`` (Triton on CUDA, torch elsewhere) or a registered backend
            (``snncc.backends.names()``).
        params: parameter values: numbers, Quantities, or arrays/tensors broadcastable to
            ``size`` (in SI units for models with units).
        trainable: parameter names to learn (one shared value each), or a mapping
            ``{name: "shared" | "neuron"}``.
        size: the neuron shape after ``[T, batch]`` (needed for per-neuron values).
        init: initial values of state variables (numbers or expressions).
        saved_dtype: dtype of what the forward stores for the backward (``torch.bfloat16``
            halves those bytes).
        stateful: carry the final state to the next call until ``reset()``.
    """
    return Layer(model, **options)


__all__ = ["Layer", "layer", "lower_layer", "neuron_shape", "resolve_model"]
