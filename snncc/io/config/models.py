"""Neuron and synapse model specs (``models:`` entries, or inline) read from a config;
:class:`~snncc.io.config.save.SaveContext` writes them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from snncc.errors import ConfigError
from snncc.frontend.models import NeuronModel, SynapseModel
from snncc.io.config.registry import _join, _wrap, check_keys

if TYPE_CHECKING:  # LoadContext reads models with these functions
    from snncc.io.config.load import LoadContext


_NEURON_MODEL_KEYS = ("kind", "name", "equations", "threshold", "reset", "refractory",
                      "params", "init", "method", "doc")
_SYNAPSE_MODEL_KEYS = ("kind", "name", "equations", "on_pre", "on_post", "delay", "params",
                       "method", "doc")


def _opt_str(spec: Mapping[str, Any], key: str, ctx: LoadContext, path: str) -> str | None:
    v = spec.get(key)
    return None if v is None else ctx.string(v, _join(path, key))


def _neuron_model_from(name: object, spec: object, ctx: LoadContext, path: str) -> Any:
    s = check_keys(spec, _NEURON_MODEL_KEYS, path, ("equations",))
    if s.get("kind", "neuron") != "neuron":
        raise ConfigError(f"{path}.kind: a group needs a neuron model, got {s['kind']!r}")
    params = ctx.mapping(s.get("params"), _join(path, "params"), ctx.value)
    init = ctx.mapping(s.get("init"), _join(path, "init"),
                       lambda v, p: ctx.value(v, p, expr=True))
    refractory = (None if s.get("refractory") is None
                  else ctx.value(s["refractory"], _join(path, "refractory"), expr=True))
    return _wrap(path, lambda: NeuronModel(
        ctx.string(s["equations"], _join(path, "equations")),
        threshold=_opt_str(s, "threshold", ctx, path), reset=_opt_str(s, "reset", ctx, path),
        refractory=refractory, params=params, method=_opt_str(s, "method", ctx, path),
        name=ctx.string(name, _join(path, "name")), doc=_opt_str(s, "doc", ctx, path) or "",
        init=init))


def _synapse_model_from(name: object, spec: object, ctx: LoadContext, path: str) -> Any:
    s = check_keys(spec, _SYNAPSE_MODEL_KEYS, path)
    if s.get("kind", "synapse") != "synapse":
        raise ConfigError(f"{path}.kind: a connection needs a synapse model, got "
                          f"{s['kind']!r}")
    params = ctx.mapping(s.get("params"), _join(path, "params"), ctx.value)
    delay = None if s.get("delay") is None else ctx.value(s["delay"], _join(path, "delay"))
    return _wrap(path, lambda: SynapseModel(
        _opt_str(s, "equations", ctx, path) or "", _opt_str(s, "on_pre", ctx, path),
        _opt_str(s, "on_post", ctx, path), delay, params, _opt_str(s, "method", ctx, path),
        ctx.string(name, _join(path, "name")), _opt_str(s, "doc", ctx, path) or ""))
