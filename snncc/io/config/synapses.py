"""Codec of connections (kind ``synapses``) and of the connection arguments that
projections pass on: models, weights and initializers, convolutions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from snncc.errors import ConfigError, SnnccError
from snncc.frontend.connectivity import pairs_conv
from snncc.frontend.initializers import Initializer, from_spaic
from snncc.frontend.network import Connection, split_group
from snncc.io.config.load import LoadContext
from snncc.io.config.quantities import _is_number, _NotLiteral, _try_quantity
from snncc.io.config.registry import _join, _wrap, register_kind
from snncc.io.config.save import SaveContext, _code


def _trivial_synapse(model: Any) -> bool:
    return (not model.equations.text.strip() and not model.params and model.delay is None
            and model.method is None and model.name == "synapse" and not model.doc)


def _synapses_to(c: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"pre": ctx.ref(c.pre, f"{path}.pre"),
                            "post": ctx.ref(c.post, f"{path}.post")}
    model = c.model
    if _trivial_synapse(model):
        for k in ("on_pre", "on_post"):
            if getattr(model, k) is not None:
                spec[k] = _code(getattr(model, k))
    else:
        spec["model"] = ctx.synapse_model(model, f"{path}.model")
    if getattr(c, "kernel", None) is not None:  # link_type="conv": i, j made from these
        spec.update(_conv_to(c, ctx, path))
    elif c.connect == "explicit":
        spec["i"] = ctx.value(np.asarray(c.i, dtype=np.int64), f"{path}.i")
        spec["j"] = ctx.value(np.asarray(c.j, dtype=np.int64), f"{path}.j")
    elif c.connect == "fan_in":
        spec["fan_in"] = int(c.fan_in)
    elif c.connect != "full":  # full is the default
        spec["connect"] = c.connect
    if c.p is not None:
        spec["p"] = float(c.p)
    if c.condition is not None:
        if not isinstance(c.condition, str):
            raise ctx.fail(f"{path}.condition", f"the condition {c.condition!r} (a "
                           "Python callable; write it as a string such as "
                           "'abs(i - j) < 5')")
        spec["condition"] = c.condition
    if c.params:
        spec["params"] = {k: ctx.value(v, f"{path}.params.{k}") for k, v in c.params.items()}
    if c.weight is not None:
        spec.update(_weight_to(c.weight, ctx, path))
    init = {k: v for k, v in c.init.items()
            if not (k == "w" and c.weight is not None and v is c.weight)}  # set by lowering
    if init:
        spec["init"] = {k: ctx.value(v, f"{path}.init.{k}", expr=True)
                        for k, v in init.items()}
    if c.delay is not None and c.delay is not model.delay:
        spec["delay"] = ctx.value(c.delay, f"{path}.delay", expr=True)
    return spec


def _weight_to(weight: object, ctx: SaveContext, path: str) -> dict[str, Any]:
    """``weight:``, or for an initializer ``w_init``, ``w_init_param`` and ``w_unit``
    (the distribution, not its samples: the seed draws the same weights again)."""
    if not isinstance(weight, Initializer):
        return {"weight": ctx.value(weight, f"{path}.weight", expr=True)}
    try:
        same = from_spaic(weight.name, dict(weight.params), unit=weight.unit) == weight
    except SnnccError:
        same = False
    if type(weight) is not Initializer or not same:
        raise ctx.fail(f"{path}.weight", f"the weight initializer {weight!r} (not one "
                       "that snncc.frontend.initializers makes)")
    out: dict[str, Any] = {"w_init": weight.name, "w_init_param": _init_params_to(
        dict(weight.params), ctx, f"{path}.w_init_param")}
    if weight.unit is not None:
        out["w_unit"] = _unit_to(weight.unit, ctx, f"{path}.w_unit")
    return out


def _init_params_to(params: Mapping[str, Any], ctx: SaveContext, path: str
                    ) -> dict[str, Any]:
    return {str(k): v if isinstance(v, str) else ctx.value(v, _join(path, k))
            for k, v in params.items()}


def _unit_to(unit: object, ctx: SaveContext, path: str) -> Any:
    """A unit as ``mV`` (not ``1*mV``); any other value as usual."""
    text = ctx.value(unit, path)
    if isinstance(text, str) and text.startswith("1*"):
        short = text[2:]
        try:
            if _try_quantity(short) == _try_quantity(text):
                return short
        except (_NotLiteral, SnnccError):  # pragma: no cover - units read back
            pass
    return text


def _pair_to(v: object) -> Any:
    t = (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)
    return t[0] if len(t) == 2 and t[0] == t[1] else list(t)


def _conv_to(c: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    """``link_type: conv`` with ``kernel_size``, ``stride`` and ``padding``, recovered from
    the synapses and checked to make exactly the same ones."""
    pre, _, _ = split_group(c.pre)
    post, _, _ = split_group(c.post)
    kshape, kidx = c.kernel
    fail = ctx.fail(f"{path}.kernel", "a convolution whose synapses were changed after it "
                    "was made (they are not those of a kernel_size/stride/padding)")
    try:
        (_, H, W), (_, Ho, Wo) = pre.shape, post.shape
        kh, kw = int(kshape[2]), int(kshape[3])
        i, j, k = (np.asarray(x, dtype=np.int64) for x in (c.i, c.j, kidx))
    except (TypeError, ValueError):
        raise fail from None
    if not i.size:
        raise ctx.fail(f"{path}.kernel", "a convolution without synapses (every tap on "
                       "the padding; its stride and padding cannot be told)")

    def axis(pos_in: np.ndarray, pos_out: np.ndarray, tap: np.ndarray, n_in: int,
             n_out: int, ksize: int) -> tuple[int, int]:
        """(stride, padding) of one axis: every synapse has pos_in - tap =
        pos_out*stride - padding, and the (pos_out, tap, pos_in) it makes are all the
        taps of that 1-d convolution that fall inside the input."""
        seen = np.unique((pos_out * ksize + tap) * n_in + pos_in)
        outs, first = np.unique(pos_out, return_index=True)
        d = (pos_in - tap)[first]
        if outs.size >= 2:  # two output positions fix both
            stride = int((d[-1] - d[0]) // (outs[-1] - outs[0]))
            cands = [(stride, int(outs[0]) * stride - int(d[0]))]
        else:  # one output position with synapses: the smallest stride that fits
            cands = [(s, int(outs[0]) * s - int(d[0]))
                     for s in range(1, 2 * (n_in + ksize) + 2)]
        o, tp = (a.reshape(-1) for a in np.meshgrid(np.arange(n_out), np.arange(ksize),
                                                     indexing="ij"))
        for stride, pad in cands:
            if stride < 1 or pad < 0 or (n_in + 2 * pad - ksize) // stride + 1 != n_out:
                continue
            pos = o * stride - pad + tp
            ok = (pos >= 0) & (pos < n_in)
            if np.array_equal(np.unique((o[ok] * ksize + tp[ok]) * n_in + pos[ok]), seen):
                return stride, pad
        raise fail

    sh, ph = axis((i // W) % H, (j // Wo) % Ho, (k // kw) % kh, H, Ho, kh)
    sw, pw = axis(i % W, j % Wo, k % kw, W, Wo, kw)
    try:
        ii, jj, kk, ks = pairs_conv(tuple(pre.shape), tuple(post.shape), (kh, kw),
                                    (sh, sw), (ph, pw))
    except SnnccError:
        raise fail from None
    if tuple(ks) != tuple(int(x) for x in kshape) or not (
            np.array_equal(ii, i) and np.array_equal(jj, j) and np.array_equal(kk, k)):
        raise fail
    out: dict[str, Any] = {"link_type": "conv", "kernel_size": _pair_to((kh, kw))}
    if (sh, sw) != (1, 1):
        out["stride"] = _pair_to((sh, sw))
    if (ph, pw) != (0, 0):
        out["padding"] = _pair_to((ph, pw))
    return out


#: Connection arguments a config holds (synapses and projections).
_CONNECTION_KEYS = ("model", "on_pre", "on_post", "params", "weight", "init", "delay",
                    "connect", "p", "fan_in", "condition", "i", "j", "link_type",
                    "density", "kernel_size", "stride", "padding", "w_init",
                    "w_init_param", "w_unit")


def _connection_args_to(kw: Mapping[str, Any], ctx: SaveContext, path: str
                        ) -> dict[str, Any]:
    """The connection arguments a projection passes on, as given (in their order)."""
    out: dict[str, Any] = {}
    for key, v in kw.items():
        p = f"{path}.{key}"
        if v is None:  # the default
            continue
        if key == "model":
            out[key] = ctx.synapse_model(v, p)
        elif key in ("on_pre", "on_post", "connect", "link_type", "w_init", "condition"):
            if not isinstance(v, str):
                raise ctx.fail(p, f"{key}={v!r} (a string is needed"
                               + ("; write a condition such as 'abs(i - j) < 5')"
                                  if key == "condition" else ")"))
            out[key] = _code(v) if key in ("on_pre", "on_post") else v
        elif key in ("params", "init", "w_init_param"):
            if not isinstance(v, Mapping):
                raise ctx.fail(p, f"{key}={v!r} (a mapping is needed)")
            if key == "w_init_param":
                out[key] = _init_params_to(v, ctx, p)
            else:
                out[key] = {str(k): ctx.value(x, _join(p, k), expr=key == "init")
                            for k, x in v.items()}
        elif key == "weight":
            out.update(_weight_to(v, ctx, path))
        elif key == "delay":
            out[key] = ctx.value(v, p, expr=True)
        elif key in ("p", "density"):
            if not _is_number(v):
                raise ctx.fail(p, f"{key}={v!r}")
            out[key] = float(v)
        elif key == "fan_in":
            out[key] = ctx.value(v, p)
        elif key in ("i", "j"):
            out[key] = ctx.value(np.asarray(v, dtype=np.int64), p)
        elif key in ("kernel_size", "stride", "padding"):
            try:
                out[key] = _pair_to(v)
            except (TypeError, ValueError):
                raise ctx.fail(p, f"{key}={v!r}") from None
        elif key == "w_unit":
            out[key] = _unit_to(v, ctx, p)
        else:
            raise ctx.fail(p, f"the argument {key}={v!r}, which is no Connection "
                           "argument,")
    return out


def _connection_args_from(s: Mapping[str, Any], ctx: LoadContext, path: str,
                          skip: Sequence[str] = ("pre", "post")) -> dict[str, Any]:
    """The Connection keyword arguments of a synapses or projection spec (only those
    given, in their order)."""

    def syn_value(v: object, p: str) -> Any:
        return ctx.value(v, p, expr=True, dist_expr=True)

    def pair(v: object, p: str) -> Any:
        if isinstance(v, list):
            if len(v) != 2:
                raise ConfigError(f"{p}: expected a number or a pair [height, width], got "
                                  f"{v!r}")
            return tuple(ctx.integer(x, f"{p}[{n}]", 0) for n, x in enumerate(v))
        return ctx.integer(v, p, 0)

    def init_param(v: object, p: str) -> Any:
        if isinstance(v, str) or _is_number(v):
            return v
        raise ConfigError(f"{p}: expected a number or a name (such as fan_in), got {v!r}")

    kw: dict[str, Any] = {}
    for key, v in s.items():
        p = f"{path}.{key}"
        if key in skip or v is None:
            continue
        if key == "model":
            kw[key] = ctx.synapse_model(v, p)
        elif key in ("on_pre", "on_post", "connect", "condition", "link_type", "w_init"):
            kw[key] = ctx.string(v, p)
        elif key == "params":
            kw[key] = ctx.mapping(v, p, ctx.value)
        elif key == "init":
            kw[key] = ctx.mapping(v, p, syn_value)
        elif key in ("weight", "delay"):
            kw[key] = syn_value(v, p)
        elif key in ("p", "density"):
            kw[key] = ctx.number(v, p)
        elif key == "fan_in":
            kw[key] = ctx.integer(v, p, 0)
        elif key in ("i", "j"):
            kw[key] = ctx.array(v, p, integer=True)
        elif key in ("kernel_size", "stride", "padding"):
            kw[key] = pair(v, p)
        elif key == "w_init_param":
            kw[key] = ctx.mapping(v, p, init_param)
        elif key == "w_unit":
            kw[key] = ctx.value(v, p)
        else:  # pragma: no cover - check_keys knows the keys
            raise ConfigError(f"{p}: unknown key {key!r}")
    return kw


def _synapses_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    pre = ctx.group(s["pre"], f"{path}.pre")
    post = ctx.group(s["post"], f"{path}.post")
    kw = _connection_args_from(s, ctx, path)
    return _wrap(path, lambda: Connection(pre, post, name=name, **kw))


def register() -> None:
    """Register the ``synapses`` kind."""
    register_kind("synapses", section="connections", cls=Connection, to_config=_synapses_to,
                  from_config=_synapses_from,
                  keys=("pre", "post", *_CONNECTION_KEYS), required=("pre", "post"),
                  attributes=("pre", "post", "model", "params", "init", "weight", "delay",
                              "connect", "p", "fan_in", "condition", "i", "j", "kernel"))
