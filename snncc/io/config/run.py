"""The ``run:`` section: how ``snncc run`` simulates a config (:class:`RunSettings`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from snncc.errors import ConfigError
from snncc.io.config.files import read_config
from snncc.io.config.load import LoadContext
from snncc.io.config.quantities import _TIME, format_quantity
from snncc.io.config.registry import check_keys
from snncc.units import Quantity


@dataclass
class RunSettings:
    """The ``run:`` section: how ``snncc run`` simulates a config.

    Attributes:
        name: run name (default: the network's; sweeps append their values).
        duration: simulated time in seconds (``None``: not given).
        chunk: logging interval in seconds (data are streamed after each chunk);
            ``None``: one chunk.
        backend, device, dtype, batch, method: passed to ``net.compile``
            (``device: auto``: cuda if available, else cpu).
        hdf5, tensorboard: which logs ``snncc run`` writes.
        sweep: the values a sweep set (config path -> value), for the record.
    """

    name: str = "net"
    duration: float | None = None
    chunk: float | None = None
    backend: str = "auto"
    device: str | None = None
    dtype: str = "float32"
    batch: int = 1
    method: str | None = None
    hdf5: bool = True
    tensorboard: bool = True
    sweep: dict[str, Any] = field(default_factory=dict)

    def compile_options(self) -> dict[str, Any]:
        """Keyword arguments for ``Network.compile``."""
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        return {"backend": self.backend, "device": device, "batch": self.batch,
                "dtype": {"float32": torch.float32, "float64": torch.float64}[self.dtype],
                "method": self.method}

    def to_config(self) -> dict[str, Any]:
        """The ``run:`` section for these settings."""
        out: dict[str, Any] = {"name": self.name}
        if self.duration is not None:
            out["duration"] = format_quantity(Quantity(self.duration, _TIME))
        if self.chunk is not None:
            out["chunk"] = format_quantity(Quantity(self.chunk, _TIME))
        out.update(backend=self.backend, device=self.device, dtype=self.dtype,
                   batch=self.batch, method=self.method, hdf5=self.hdf5,
                   tensorboard=self.tensorboard)
        if self.sweep:
            out["sweep"] = dict(self.sweep)
        return out


_RUN_KEYS = ("name", "duration", "chunk", "backend", "device", "dtype", "batch", "method",
             "hdf5", "tensorboard", "sweep")


def _network_section(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The ``network:`` section, its keys checked (the run name defaults to its name)."""
    return check_keys(cfg.get("network") or {}, ("name", "dt", "seed", "schedule"), "network")


def run_settings(src: str | Path | Mapping[str, Any]) -> RunSettings:
    """The ``run:`` section of a config as :class:`RunSettings` (defaults filled in)."""
    cfg = read_config(src)
    net = _network_section(cfg)
    r = check_keys(cfg.get("run") or {}, _RUN_KEYS, "run")
    ctx = LoadContext(cfg, Path.cwd(), None, None)
    name = r.get("name", net.get("name", "net"))
    out = RunSettings(name=ctx.string(name, "run.name"))
    if r.get("duration") is not None:
        out.duration = ctx.time(r["duration"], "run.duration")
        if out.duration <= 0:
            raise ConfigError(f"run.duration: must be > 0, got {r['duration']!r}")
    if r.get("chunk") is not None:
        out.chunk = ctx.time(r["chunk"], "run.chunk")
        if out.chunk <= 0:
            raise ConfigError(f"run.chunk: must be > 0, got {r['chunk']!r}")
    for k in ("backend", "method"):
        if r.get(k) is not None:
            setattr(out, k, ctx.string(r[k], f"run.{k}"))
    if r.get("device") is not None:
        out.device = ctx.string(r["device"], "run.device")
    if r.get("dtype") is not None:
        if r["dtype"] not in ("float32", "float64"):
            raise ConfigError(f"run.dtype: must be float32 or float64, got {r['dtype']!r}")
        out.dtype = r["dtype"]
    if r.get("batch") is not None:
        out.batch = ctx.integer(r["batch"], "run.batch", 1)
    for k in ("hdf5", "tensorboard"):
        if r.get(k) is not None:
            setattr(out, k, ctx.boolean(r[k], f"run.{k}"))
    if r.get("sweep") is not None:
        if not isinstance(r["sweep"], Mapping):
            raise ConfigError(f"run.sweep: expected a mapping of config paths to values, "
                              f"got {r['sweep']!r}")
        out.sweep = dict(r["sweep"])
    return out
