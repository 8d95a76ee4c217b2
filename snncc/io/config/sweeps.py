"""Sweeps: one config per point of its ``sweep:`` section (:func:`expand_sweeps`)."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from snncc.errors import ConfigError
from snncc.io.config.files import _TOP_KEYS, read_config
from snncc.io.config.quantities import _is_number
from snncc.io.config.registry import check_keys


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for p in path.split("."):
        if not p:
            raise ConfigError(f"sweep: bad path {path!r}; write dotted keys such as "
                              "groups.P.params.tau")
        parts.append(int(p) if p.isdigit() else p)
    return parts


def _set_path(cfg: dict[str, Any], path: str, value: Any, where: str) -> None:
    parts = _split_path(path)
    if parts[0] not in _TOP_KEYS or parts[0] in ("sweep", "version"):
        raise ConfigError(f"{where}: {path!r} must start with one of "
                          f"{', '.join(k for k in _TOP_KEYS if k not in ('sweep', 'version'))}")
    node: Any = cfg
    k = 0
    while True:
        part: str | int = parts[k]
        n = 1
        if isinstance(node, dict):  # a dotted key (groups.l1.exc.size): longest first
            for m in range(len(parts) - k, 1, -1):
                joined = ".".join(map(str, parts[k:k + m]))
                if joined in node:
                    part, n = joined, m
                    break
        if k + n == len(parts):
            break
        here = ".".join(map(str, parts[:k + n]))
        if isinstance(node, dict):
            if part not in node or node[part] is None:
                # only a missing parent of the last key is created (e.g. params: of a
                # group, or the run: / network: section)
                if k + n != len(parts) - 1 or (k < 2 and parts[0] not in ("run",
                                                                          "network")):
                    raise ConfigError(f"{where}: {path!r}: the config has no {here!r}")
                node[part] = {}
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            raise ConfigError(f"{where}: {path!r}: the config has no {here!r}")
        k += n
    last = part
    if isinstance(node, dict):
        node[last] = copy.deepcopy(value)
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = copy.deepcopy(value)
    else:
        raise ConfigError(f"{where}: {path!r}: cannot set {last!r} in a "
                          f"{type(node).__name__}")


def _label(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif _is_number(value):
        text = f"{value:g}"
    else:
        text = json.dumps(value, separators=(",", ":"))
    text = re.sub(r"[\s*]+", "", text)
    return re.sub(r"[^A-Za-z0-9_.+=-]", "_", text)


def _short_keys(paths: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in paths:
        parts = p.split(".")
        for n in range(1, len(parts) + 1):
            short = ".".join(parts[-n:])
            if sum(1 for q in paths if q == short or q.endswith("." + short)) == 1:
                out[p] = short
                break
        else:  # pragma: no cover - paths are unique
            out[p] = p
    return out


def expand_sweeps(src: str | Path | Mapping[str, Any]) -> list[dict[str, Any]]:
    """One config per point of the config's ``sweep:`` (a list of one config without it).

    ``sweep.zip`` maps config paths to lists of equal length, varied together;
    ``sweep.grid`` maps paths to lists combined as a Cartesian product (with the zipped
    lists as one more axis). Each result has ``run.name`` telling its values
    (``cuba-tau=10ms-p=0.02``) and ``run.sweep`` mapping each path to its value.
    """
    cfg = read_config(src)
    sweep = cfg.pop("sweep", None)
    if not sweep:
        return [cfg]
    s = check_keys(sweep, ("zip", "grid"), "sweep")
    axes: list[list[dict[str, Any]]] = []
    zipped = s.get("zip") or {}
    grid = s.get("grid") or {}
    for part, entries in (("zip", zipped), ("grid", grid)):
        if not isinstance(entries, Mapping):
            raise ConfigError(f"sweep.{part}: expected a mapping of config paths to lists "
                              "of values")
        for path, values in entries.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"sweep.{part}.{path}: expected a non-empty list of values, "
                                  f"got {values!r}")
    if zipped:
        lengths = {p: len(v) for p, v in zipped.items()}
        if len(set(lengths.values())) != 1:
            raise ConfigError("sweep.zip: the lists must have equal lengths, got "
                              + ", ".join(f"{p}: {n}" for p, n in lengths.items()))
        n = next(iter(lengths.values()))
        axes.append([{p: v[k] for p, v in zipped.items()} for k in range(n)])
    for path, values in grid.items():
        if path in zipped:
            raise ConfigError(f"sweep.grid.{path}: also in sweep.zip; sweep a path once")
        axes.append([{path: v} for v in values])
    paths = [*zipped, *grid]
    short = _short_keys(paths)
    base_name = str((cfg.get("run") or {}).get("name")
                    or (cfg.get("network") or {}).get("name") or "net")
    out = []
    for combo in itertools.product(*axes):
        values = {k: v for d in combo for k, v in d.items()}
        c = copy.deepcopy(cfg)
        for path in paths:
            _set_path(c, path, values[path], f"sweep.{'zip' if path in zipped else 'grid'}")
        run = c.get("run")
        run = dict(run) if isinstance(run, Mapping) else {}
        run["name"] = base_name + "".join(f"-{short[p]}={_label(values[p])}" for p in paths)
        run["sweep"] = {p: values[p] for p in paths}
        c["run"] = run
        out.append(c)
    return out
