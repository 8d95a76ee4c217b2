"""Multi-step spiking layers as ``torch.nn.Module``: ``[T, batch, ...]`` in, spikes out,
trained by backpropagation through time with a symbolic surrogate gradient.

The forward and backward are generated code (one loop over T each; fused Triton kernels
on CUDA, torch code elsewhere), called through two custom ops (``snncc::layer_forward``,
``snncc::layer_backward``) so ``torch.compile`` treats a layer as one opaque node.

>>> import torch, snncc
>>> lif = snncc.layer("dv/dt = (x - v)/tau : 1", threshold="v > 1", reset="v = 0",
...                   params={"tau": 2.0}, input="x")
>>> spikes = lif(torch.rand(8, 4, 10) * 3)
>>> spikes.shape
torch.Size([8, 4, 10])
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch

from snncc.backends.registry import AUTO, auto, get, lookup, reference
from snncc.errors import BackendError, ParameterError, ShapeError
from snncc.ir.layer import LayerStep, LayerTensor

# ------------------------------------------------------------------ the custom ops
# key -> (LayerCode, {(device type, dtype): (forward, backward)}, backend module name)
_IMPLS: dict[str, Any] = {}
_DTYPE_CODES = {0: torch.float32, 1: torch.bfloat16, 2: torch.float16, 3: torch.float64}
_CODE_OF_DTYPE = {d: k for k, d in _DTYPE_CODES.items()}


def _impl(key: str, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    _, built, build = _IMPLS[key]
    k = (str(device), dtype)
    if k not in built:
        built[k] = build(device, dtype)
    return built[k]


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


@torch.library.custom_op("snncc::layer_forward", mutates_args=())
def _layer_forward(key: str, x: torch.Tensor, states: list[torch.Tensor],
                   aux: list[torch.Tensor], params: list[torch.Tensor], save: bool,
                   saved_dtype: int) -> tuple[torch.Tensor, list[torch.Tensor],
                                              list[torch.Tensor], list[torch.Tensor]]:
    code = _IMPLS[key][0]
    fwd, _ = _impl(key, x.device, _compute_dtype(x))
    P = dict(zip(code.tensors, params))
    spikes, fin, fin_aux, saved = fwd(x, states, aux, P, save, _DTYPE_CODES[saved_dtype])
    return spikes, list(fin), list(fin_aux), list(saved)


@_layer_forward.register_fake
def _(key, x, states, aux, params, save, saved_dtype):  # noqa: ANN001, ANN202
    code = _IMPLS[key][0]
    cd = _compute_dtype(x)
    saved = [x.new_empty(x.shape, dtype=_DTYPE_CODES[saved_dtype]) for _ in code.saved] \
        if save else []
    return (x.new_empty(x.shape), [s.new_empty(s.shape, dtype=cd) for s in states],
            [a.new_empty(a.shape, dtype=cd) for a in aux], saved)


@torch.library.custom_op("snncc::layer_backward", mutates_args=())
def _layer_backward(key: str, grad_spikes: torch.Tensor, grad_states: list[torch.Tensor],
                    saved: list[torch.Tensor], x: torch.Tensor, params: list[torch.Tensor]
                    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    code = _IMPLS[key][0]
    _, bwd = _impl(key, grad_spikes.device, _compute_dtype(x))
    P = dict(zip(code.tensors, params))
    gx, gstates, gp = bwd(grad_spikes, grad_states, saved, x, P)
    grads = []
    for name, p in zip(code.tensors, params):
        if name in gp:
            g = gp[name]
            g = g.sum().reshape(1) if p.numel() == 1 else g.reshape(-1, p.numel()).sum(0)
            grads.append(g.to(p.dtype))
        else:
            grads.append(torch.zeros_like(p))
    return gx.to(x.dtype), [g.contiguous() for g in gstates], grads


@_layer_backward.register_fake
def _(key, grad_spikes, grad_states, saved, x, params):  # noqa: ANN001, ANN202
    return (x.new_empty(x.shape), [g.new_empty(g.shape) for g in grad_states],
            [p.new_empty(p.shape) for p in params])


def _setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
    key, x, states, aux, params, save, saved_dtype = inputs
    _, fin, fin_aux, saved = output
    ctx.mark_non_differentiable(*fin_aux, *saved)
    ctx.key = key
    ctx.n_states = len(states)
    ctx.state_dtypes = [s.dtype for s in states]
    ctx.save_for_backward(x, *params, *saved)
    ctx.n_params = len(params)
    ctx.n_aux = len(aux)
    if not save:
        ctx.no_saved = True


def _backward(ctx: Any, grad_spikes: torch.Tensor, grad_fin: list, grad_aux: list,
              grad_saved: list) -> tuple:
    if getattr(ctx, "no_saved", False):
        raise BackendError("this layer ran without saving for the backward (save=False or "
                           "no input required gradients); run it with gradients enabled")
    x, *rest = ctx.saved_tensors
    params, saved = rest[:ctx.n_params], rest[ctx.n_params:]
    gs = [g if g is not None else torch.zeros(x.shape[1:], dtype=d, device=x.device)
          for g, d in zip(grad_fin, ctx.state_dtypes)]
    if grad_spikes is None:
        grad_spikes = torch.zeros_like(x)
    gx, gstates, gparams = torch.ops.snncc.layer_backward(
        ctx.key, grad_spikes.contiguous(), gs, list(saved), x, list(params))
    return None, gx, list(gstates), [None] * ctx.n_aux, list(gparams), None, None


_layer_forward.register_autograd(_backward, setup_context=_setup_context)


# ------------------------------------------------------------------ compiling
def _register(code: Any, build: Any, backend: str) -> str:
    import hashlib

    key = f"{backend}:{hashlib.sha256(code.source.encode()).hexdigest()[:24]}"
    if key not in _IMPLS:
        _IMPLS[key] = (code, {}, build)
    return key


class CompiledLayer(torch.nn.Module):
    """A multi-step spiking layer compiled from its step IR; :class:`snncc.Layer` (see
    :func:`snncc.layer`) lowers a neuron model to one.

    ``forward(x_seq)`` takes ``[T, batch, *size]`` (time first) and returns the spikes
    with the same shape and dtype. Without ``stateful``, every call starts from the
    model's initial values; with it, the final state carries over (detached) until
    :meth:`reset`.

    Args:
        step_ir: the layer's step with its backward (after the autodiff pass).
        tensors: its tensor parameters (trainable ones become ``nn.Parameter``).
        size: the neuron shape after ``[T, batch]`` (None: any).
        model_name, input: shown by :meth:`describe`; the variable the input drives.
        compile_seconds: time already spent lowering; the code generation adds to it.
    """

    def __init__(self, step_ir: LayerStep, tensors: Mapping[str, LayerTensor], *,
                 size: tuple[int, ...] | None, model_name: str, input: str,
                 backend: str = "auto", saved_dtype: torch.dtype = torch.float32,
                 stateful: bool = False, name: str | None = None,
                 compile_seconds: float = 0.0) -> None:
        super().__init__()
        t0 = time.perf_counter()
        owner = f"layer '{name}'" if name else "layer"
        if backend != AUTO:
            lookup(backend, owner)  # a known name (whether it runs here is checked on use)
        if saved_dtype not in _CODE_OF_DTYPE:
            raise ParameterError(f"{owner}: saved_dtype must be a float dtype, got "
                                 f"{saved_dtype}")
        self.size = size
        self.step_ir = step_ir
        self.model_name = model_name
        self.backend = backend
        self.saved_dtype = saved_dtype
        self.stateful = stateful
        self.input_name = input
        self._state: dict[str, torch.Tensor] | None = None
        self._codes: dict[str, tuple[Any, str]] = {}
        for k, t in tensors.items():
            value = torch.as_tensor(t.value, dtype=torch.float32)
            if t.trainable:
                self.register_parameter(k, torch.nn.Parameter(value))
            else:
                self.register_buffer(k, value)
        self._tensor_names = list(tensors)
        # generate the reference backend's code now (errors surface here)
        self._code_for(reference().name)
        self.compile_seconds = compile_seconds + (time.perf_counter() - t0)

    # ------------------------------------------------------------- code
    def _code_for(self, backend: str) -> tuple[Any, str]:
        if backend not in self._codes:
            from snncc.runtime.network import load_generated

            code = get(backend).generate_layer(self.step_ir)
            _, build = load_generated(code.source, backend)
            self._codes[backend] = (code, _register(code, build, backend))
        return self._codes[backend]

    def _backend_for(self, device: torch.device) -> str:
        return auto(device).name if self.backend == AUTO else self.backend

    def source(self, backend: str | None = None) -> str:
        """The generated source (``backend`` default: the layer's own, or for ``auto``
        the reference backend, which ``auto`` uses on the CPU)."""
        b = backend or (self.backend if self.backend != AUTO else reference().name)
        return self._code_for(b)[0].source

    def describe(self) -> str:
        """The model, integrator, surrogate and the save/recompute plan."""
        s = self.step_ir
        lines = [f"Layer of model '{s.model_name}' ({', '.join(s.states)}; input "
                 f"{s.input}), integrator {s.method_used}, dt = {s.dt:g} model time units",
                 f"  threshold: {s.threshold_text}; reset: {s.reset_text or '-'}",
                 f"  surrogate: {s.surrogate} (alpha = {s.alpha:g})"
                 + (", reset detached" if s.detach_reset else ""),
                 f"  plan: {s.plan}"]
        if s.tensors:
            lines.append("  tensors: " + ", ".join(
                f"{k} ({'shared' if t.shared else 'per neuron'}"
                f"{', trainable' if t.trainable else ''})" for k, t in s.tensors.items()))
        return "\n".join(lines)

    # ------------------------------------------------------------- state
    def reset(self) -> None:
        """Forget the carried state (stateful layers)."""
        self._state = None

    def initial_state(self, shape: tuple[int, ...], device: torch.device,
                      dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """The model's initial values as ``[batch, N]`` tensors (aux states included)."""
        out = {x: torch.full(shape, v, device=device, dtype=dtype)
               for x, v in self.step_ir.init.items()}
        out.update({k: torch.full(shape, v, device=device, dtype=dtype)
                    for k, v in self.step_ir.aux.items()})
        return out

    @property
    def state(self) -> dict[str, torch.Tensor] | None:
        """The carried state of a stateful layer (None before the first call)."""
        return self._state

    # ------------------------------------------------------------- running
    def _flat(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not isinstance(x_seq, torch.Tensor):
            raise ShapeError(f"layer input must be a tensor [T, batch, ...], got "
                             f"{type(x_seq).__name__}")
        if x_seq.dim() < 2:
            raise ShapeError(f"layer input must be [T, batch, ...] (time first), got shape "
                             f"{tuple(x_seq.shape)}")
        if not x_seq.is_floating_point():
            raise ShapeError(f"layer input must be a float tensor, got {x_seq.dtype}")
        if self.size is not None and tuple(x_seq.shape[2:]) != self.size:
            raise ShapeError(f"layer input has neuron shape {tuple(x_seq.shape[2:])}, but the "
                             f"layer was built with size={self.size}; give [T, batch, "
                             f"{', '.join(map(str, self.size))}]")
        T, B = x_seq.shape[:2]
        if x_seq.numel() == 0:
            raise ShapeError(f"layer input is empty (shape {tuple(x_seq.shape)}); give at "
                             "least one step, sample and neuron")
        return x_seq.reshape(T, B, -1)

    def run(self, x_seq: torch.Tensor, state: Mapping[str, torch.Tensor] | None = None
            ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The functional form: spikes and the final state, starting from ``state`` (a
        dict of ``[batch, *size]`` tensors as returned here; default: initial values).
        Gradients flow to the input, the parameters and ``state``."""
        x = self._flat(x_seq)
        backend = self._backend_for(x.device)
        code, key = self._code_for(backend)
        T, B, N = x.shape
        cd = _compute_dtype(x)
        init = self.initial_state((B, N), x.device, cd)
        if state is not None:
            for k, v in state.items():
                if k not in init:
                    raise ParameterError(f"unknown state {k!r}; the layer's state: "
                                         f"{', '.join(init)}")
                if v.numel() != B * N:
                    raise ShapeError(f"state {k!r} has {v.numel()} values, expected batch x "
                                     f"neurons = {B * N}")
                init[k] = v.reshape(B, N).to(cd)
        params = [getattr(self, k) for k in code.tensors]
        params = [p.reshape(-1).to(device=x.device) for p in params]
        for k, p in zip(code.tensors, params):
            t = self.step_ir.tensors[k]
            if not t.shared and p.numel() != N:
                raise ShapeError(f"parameter '{k}' has {p.numel()} values but the input has "
                                 f"{N} neurons per sample")
        needs = torch.is_grad_enabled() and (
            x.requires_grad or any(p.requires_grad for p in params)
            or any(init[k].requires_grad for k in code.states))
        sd = _CODE_OF_DTYPE[self.saved_dtype if cd != torch.float64 else torch.float64]
        spikes, fin, fin_aux, _ = torch.ops.snncc.layer_forward(
            key, x.contiguous(), [init[k] for k in code.states],
            [init[k] for k in code.aux], params, bool(needs), sd)
        shape = x_seq.shape[1:]
        final = {k: v.reshape(shape) for k, v in zip(code.states, fin)}
        final.update({k: v.reshape(shape) for k, v in zip(code.aux, fin_aux)})
        return spikes.reshape(x_seq.shape), final

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:  # noqa: D102
        state = self._state if self.stateful else None
        if state is not None and next(iter(state.values())).shape != x_seq.shape[1:]:
            state = None  # a new batch shape starts afresh
        spikes, final = self.run(x_seq, state)
        if self.stateful:
            self._state = {k: v.detach() for k, v in final.items()}
        return spikes

    def extra_repr(self) -> str:
        return (f"model={self.model_name!r}, surrogate={self.step_ir.surrogate!r}, "
                f"alpha={self.step_ir.alpha:g}, size={self.size}")


class SeqToANN(torch.nn.Module):
    """Apply stateless modules (``nn.Linear``, ``nn.Conv2d``, pooling, ...) to every
    time step at once by folding time into the batch: ``[T, B, ...] -> [T*B, ...] ->
    modules -> [T, B, ...]``."""

    def __init__(self, *modules: torch.nn.Module) -> None:
        super().__init__()
        self.module = modules[0] if len(modules) == 1 else torch.nn.Sequential(*modules)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x_seq.dim() < 2:
            raise ShapeError(f"SeqToANN expects [T, batch, ...], got {tuple(x_seq.shape)}")
        T, B = x_seq.shape[:2]
        y = self.module(x_seq.reshape(T * B, *x_seq.shape[2:]))
        return y.reshape(T, B, *y.shape[1:])


__all__ = ["CompiledLayer", "SeqToANN"]
