"""Codecs of SPAIC's nodes: ``encoder``, ``input_generator`` (groups) and ``decoder``
(a monitor)."""

from __future__ import annotations

from typing import Any

from snncc.frontend.nodes import Decoder, Encoder, Generator
from snncc.io.config.load import LoadContext
from snncc.io.config.registry import _wrap, register_kind
from snncc.io.config.save import SaveContext

_ENCODER_KEYS = ("size", "shape", "coding", "max_rate", "max_prob", "window", "scale",
                 "target", "variable", "amplitude", "types")


def _encoder_to(e: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"size": int(e.size), "coding": e.coding}
    if e.shape is not None:
        spec["shape"] = list(e.shape)
    if e.types != ("input",):
        spec["types"] = list(e.types)
    if e.coding in ("poisson", "rate"):
        spec["max_rate" if not hasattr(e, "rate") else "rate"] = ctx.value(
            e.max_rate, f"{path}.max_rate")
    elif e.coding == "bernoulli":
        spec["max_prob"] = e.max_prob
    elif e.coding == "latency":
        spec["window"] = ctx.value(e.window, f"{path}.window")
    else:
        spec.update(target=ctx.ref(e.target, f"{path}.target"), variable=e.variable,
                    amplitude=ctx.value(e.amplitude, f"{path}.amplitude"))
    if e.scale != 1.0 and not hasattr(e, "rate"):
        spec["scale"] = e.scale
    return spec


def _encoder_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str,
                  generator: bool = False) -> Any:
    kw: dict[str, Any] = {}
    for key in ("max_rate", "window", "amplitude", "rate"):
        if key in s:
            kw[key] = ctx.value(s[key], f"{path}.{key}")
    for key in ("max_prob", "scale", "variable", "coding"):
        if key in s:
            kw[key] = s[key]
    if "target" in s:
        kw["target"] = ctx.group(s["target"], f"{path}.target")
    if "types" in s:
        kw["types"] = tuple(s["types"])
    size = ctx.integer(s["size"], f"{path}.size", 1) if "size" in s else None
    shape = tuple(s["shape"]) if s.get("shape") is not None else None
    cls = Generator if generator else Encoder
    return _wrap(path, lambda: cls(size, shape, name=name, **kw))


def _input_generator_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str
                          ) -> Any:
    return _encoder_from(name, s, ctx, path, generator=True)


def _decoder_to(d: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    return {"source": ctx.ref(d.target, f"{path}.source"), "coding": d.coding,
            "variable": d.variable}


def _decoder_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    src = ctx.group(s["source"], f"{path}.source")
    return _wrap(path, lambda: Decoder(src, s.get("coding", "spike_counts"),
                                       variable=s.get("variable", "v"), name=name))


def register() -> None:
    """Register the node kinds."""
    attrs = (*_ENCODER_KEYS, "model", "params", "init", "data", "rate")
    register_kind("encoder", section="groups", cls=Encoder, to_config=_encoder_to,
                  from_config=_encoder_from, keys=_ENCODER_KEYS, attributes=attrs)
    register_kind("input_generator", section="groups", cls=Generator,
                  to_config=_encoder_to, from_config=_input_generator_from,
                  keys=("size", "shape", "coding", "rate", "target", "variable",
                        "amplitude", "types"), attributes=attrs)
    register_kind("decoder", section="monitors", cls=Decoder, to_config=_decoder_to,
                  from_config=_decoder_from, keys=("source", "coding", "variable"),
                  required=("source",), attributes=("target", "coding", "variable"))
