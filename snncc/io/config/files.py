"""Config files: YAML/JSON read and written, ``npz`` sidecar paths, the top-level keys."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from snncc.errors import ConfigError
from snncc.io.config.registry import OBJECT_SECTIONS, check_keys

FORMAT_VERSION = 1
_TOP_KEYS = ("version", "network", "models", "assemblies", *OBJECT_SECTIONS, "run",
             "sweep")


def _yaml() -> Any:
    """The PyYAML module, imported on first use: it is optional (JSON configs work
    without it)."""
    try:
        import yaml
    except ImportError as e:  # pragma: no cover - PyYAML is a test dependency
        raise ConfigError("YAML configs need PyYAML, which is not installed: "
                          "pip install snncc[io]  (or: pip install pyyaml); JSON configs "
                          "work without it") from e
    return yaml


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    raise ConfigError(f"{path}: unknown config format {suffix or '(no suffix)'!r}; use a "
                      ".yaml, .yml or .json file")


def _read_file(path: Path) -> Any:
    fmt = _format_of(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: "
                              f"{e.msg}") from None
    yaml = _yaml()
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None


def dump_text(config: Mapping[str, Any], fmt: str) -> str:
    """A config as YAML (``fmt="yaml"``; multi-line strings as ``|`` blocks) or JSON."""
    if fmt == "json":
        return json.dumps(config, indent=2) + "\n"
    yaml = _yaml()

    class _Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:  # no &id001 anchors: plain text
            return True

    def scalar(x: object) -> bool:
        return x is None or isinstance(x, (bool, int, float)) or (
            isinstance(x, str) and "\n" not in x)

    def _str(dumper: Any, data: str) -> Any:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    def _list(dumper: Any, data: list) -> Any:  # lists of numbers/names on one line
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data,
                                         flow_style=all(scalar(x) for x in data))

    def _dict(dumper: Any, data: dict) -> Any:  # small mappings of scalars on one line
        flow = all(scalar(x) for x in data.values()) and len(json.dumps(data)) < 70
        return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(),
                                        flow_style=flow)

    _Dumper.add_representer(str, _str)
    _Dumper.add_representer(list, _list)
    _Dumper.add_representer(dict, _dict)
    return yaml.dump(config, Dumper=_Dumper, sort_keys=False, width=92, allow_unicode=True)


def _source(src: str | Path | Mapping[str, Any]) -> tuple[dict[str, Any], Path]:
    """(config dict, base dir for npz files): from a file, or a copy of a mapping."""
    if isinstance(src, Mapping):
        return copy.deepcopy(dict(src)), Path.cwd()
    if not isinstance(src, (str, Path)):
        raise ConfigError(f"a config is a path to a .yaml/.json file or a mapping, got "
                          f"{type(src).__name__}")
    path = Path(src)
    data = _read_file(path)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping (network:, groups:, "
                          f"...), got {type(data).__name__}")
    return _absolute_npz(dict(data), path.parent.resolve()), path.parent.resolve()


def _walk_npz(node: Any, fn: Callable[[dict[str, Any]], None]) -> None:
    if isinstance(node, dict):
        if "npz" in node and isinstance(node.get("npz"), str):
            fn(node)
        for v in node.values():
            _walk_npz(v, fn)
    elif isinstance(node, list):
        for v in node:
            _walk_npz(v, fn)


def _absolute_npz(config: dict[str, Any], base: Path) -> dict[str, Any]:
    def fix(node: dict[str, Any]) -> None:
        p = Path(node["npz"])
        if not p.is_absolute():
            node["npz"] = str(base / p)

    _walk_npz(config, fix)
    return config


def npz_files(config: Mapping[str, Any]) -> list[str]:
    """The ``npz`` sidecar paths a config refers to."""
    out: list[str] = []
    _walk_npz(config, lambda n: out.append(n["npz"]) if n["npz"] not in out else None)
    return out


def relocate_npz(config: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``config`` with ``npz`` paths replaced by ``mapping[path]``."""
    cfg = copy.deepcopy(dict(config))

    def fix(node: dict[str, Any]) -> None:
        node["npz"] = mapping.get(node["npz"], node["npz"])

    _walk_npz(cfg, fix)
    return cfg


def read_config(src: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """The config in ``src`` (a .yaml/.yml/.json path or a mapping), top-level keys
    checked; relative ``npz`` paths are made absolute."""
    cfg, _ = _source(src)
    check_keys(cfg, _TOP_KEYS, "")
    if "version" in cfg and cfg["version"] != FORMAT_VERSION:
        raise ConfigError(f"version: this snncc reads config version {FORMAT_VERSION}, got "
                          f"{cfg['version']!r}")
    return cfg
