"""Codecs of the built-in group kinds: ``neurons``, ``poisson``, ``generator``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from snncc.errors import ConfigError
from snncc.frontend.network import NeuronGroup, PoissonGroup, SpikeGeneratorGroup
from snncc.io.config.load import LoadContext
from snncc.io.config.models import _opt_str
from snncc.io.config.quantities import _TIME, _is_number
from snncc.io.config.registry import _wrap, register_kind
from snncc.io.config.save import SaveContext
from snncc.units import Quantity


def _neurons_to(g: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"size": int(g.size),
                            "model": ctx.neuron_model(g.model, f"{path}.model")}
    if getattr(g, "shape", None) is not None:
        spec["shape"] = [int(k) for k in g.shape]
    if getattr(g, "types", ()):
        spec["types"] = [str(t) for t in g.types]
    if g.params:
        spec["params"] = {k: ctx.value(v, f"{path}.params.{k}") for k, v in g.params.items()}
    if g.init:
        spec["init"] = {k: ctx.value(v, f"{path}.init.{k}", expr=True)
                        for k, v in g.init.items()}
    return spec


def _neurons_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    size = ctx.integer(s["size"], f"{path}.size", 1)
    model = ctx.neuron_model(s["model"], f"{path}.model")
    params = ctx.mapping(s.get("params"), f"{path}.params",
                         lambda v, p: ctx.value(v, p, size=size))
    init = ctx.mapping(s.get("init"), f"{path}.init",
                       lambda v, p: ctx.value(v, p, expr=True, size=size))
    refractory = (None if s.get("refractory") is None
                  else ctx.value(s["refractory"], f"{path}.refractory", expr=True))
    extra: dict[str, Any] = {}  # layout and labels (only passed when given)
    if s.get("shape") is not None:
        shape = s["shape"]
        if not isinstance(shape, list):
            raise ConfigError(f"{path}.shape: expected a list of sizes such as [1, 28, 28], "
                              f"got {shape!r}")
        extra["shape"] = tuple(ctx.integer(k, f"{path}.shape[{n}]", 1)
                               for n, k in enumerate(shape))
    if s.get("types") is not None:
        types = s["types"]
        types = [types] if isinstance(types, str) else types
        if not isinstance(types, list):
            raise ConfigError(f"{path}.types: expected a list of labels such as [exc], got "
                              f"{s['types']!r}")
        extra["types"] = tuple(ctx.string(t, f"{path}.types[{n}]")
                               for n, t in enumerate(types))
    return _wrap(path, lambda: NeuronGroup(
        size, model, threshold=_opt_str(s, "threshold", ctx, path),
        reset=_opt_str(s, "reset", ctx, path), refractory=refractory, params=params,
        init=init, method=_opt_str(s, "method", ctx, path), name=name, **extra))


def _poisson_to(g: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    return {"size": int(g.size), "rates": ctx.value(g.rates, f"{path}.rates", expr=True)}


def _poisson_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    size = ctx.integer(s["size"], f"{path}.size", 1)
    rates = ctx.value(s["rates"], f"{path}.rates", expr=True, size=size)
    return _wrap(path, lambda: PoissonGroup(size, rates, name=name))


def _generator_to(g: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    return {"size": int(g.size), "indices": ctx.value(g.indices, f"{path}.indices"),
            "times": ctx.value(Quantity(np.asarray(g.times, dtype=np.float64), _TIME),
                               f"{path}.times")}


def _generator_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    size = ctx.integer(s["size"], f"{path}.size", 1)
    idx = ctx.array(s["indices"], f"{path}.indices", integer=True)
    times = s["times"]
    t = ctx.value(times, f"{path}.times") if not isinstance(times, Mapping) else ctx.array(
        times, f"{path}.times")
    if isinstance(t, Quantity) and t.ndim == 0 or _is_number(t):
        raise ConfigError(f"{path}.times: expected a list of times, one per index")
    return _wrap(path, lambda: SpikeGeneratorGroup(size, idx, t, name=name))


def register() -> None:
    """Register the group kinds."""
    register_kind("neurons", section="groups", cls=NeuronGroup, to_config=_neurons_to,
                  from_config=_neurons_from,
                  keys=("size", "model", "threshold", "reset", "refractory", "method",
                        "params", "init", "shape", "types"), required=("size", "model"),
                  attributes=("size", "model", "params", "init", "shape", "types"))
    register_kind("poisson", section="groups", cls=PoissonGroup, to_config=_poisson_to,
                  from_config=_poisson_from, keys=("size", "rates"),
                  required=("size", "rates"), attributes=("size", "rates"))
    register_kind("generator", section="groups", cls=SpikeGeneratorGroup,
                  to_config=_generator_to, from_config=_generator_from,
                  keys=("size", "indices", "times"), required=("size", "indices", "times"),
                  attributes=("size", "indices", "times"))
