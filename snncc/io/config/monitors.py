"""Codecs of the built-in monitor kinds: ``spike``, ``state``, ``rate``."""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc.errors import ConfigError
from snncc.frontend.monitors import PopulationRateMonitor, SpikeMonitor, StateMonitor
from snncc.io.config.load import LoadContext
from snncc.io.config.registry import _wrap, register_kind
from snncc.io.config.save import SaveContext


def _spikemon_to(m: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    return {"source": ctx.ref(m.source, f"{path}.source")}


def _spikemon_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    src = ctx.group(s["source"], f"{path}.source")
    return _wrap(path, lambda: SpikeMonitor(src, name=name))


def _ratemon_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    src = ctx.group(s["source"], f"{path}.source")
    return _wrap(path, lambda: PopulationRateMonitor(src, name=name))


def _statemon_to(m: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"source": ctx.ref(m.source, f"{path}.source"),
                            "variables": list(m.variables)}
    n = m.stop - m.start
    if not np.array_equal(m.record, np.arange(n)):
        spec["record"] = ctx.value(np.asarray(m.record, dtype=np.int64), f"{path}.record")
    return spec


def _statemon_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    src = ctx.group(s["source"], f"{path}.source")
    var = s["variables"]
    if isinstance(var, str):
        variables: Any = var
    elif isinstance(var, list) and var and all(isinstance(x, str) for x in var):
        variables = list(var)
    else:
        raise ConfigError(f"{path}.variables: expected a variable name or a list of names "
                          f"such as [v, ge], got {var!r}")
    rec = s.get("record", True)
    if isinstance(rec, bool):
        record: Any = rec
    elif isinstance(rec, (int, np.integer)):
        record = int(rec)
    else:
        record = ctx.array(rec, f"{path}.record", integer=True)
    return _wrap(path, lambda: StateMonitor(src, variables, record=record, name=name))


_MONITOR_ATTRIBUTES = ("source", "group", "start", "stop")


def register() -> None:
    """Register the monitor kinds."""
    register_kind("spike", section="monitors", cls=SpikeMonitor, to_config=_spikemon_to,
                  from_config=_spikemon_from, keys=("source",), required=("source",),
                  attributes=_MONITOR_ATTRIBUTES)
    register_kind("state", section="monitors", cls=StateMonitor, to_config=_statemon_to,
                  from_config=_statemon_from, keys=("source", "variables", "record"),
                  required=("source", "variables"),
                  attributes=(*_MONITOR_ATTRIBUTES, "variables", "record"))
    register_kind("rate", section="monitors", cls=PopulationRateMonitor,
                  to_config=_spikemon_to, from_config=_ratemon_from, keys=("source",),
                  required=("source",), attributes=_MONITOR_ATTRIBUTES)
