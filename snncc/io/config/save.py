"""Writing a network as a config: :class:`SaveContext` (values, references, models),
:func:`network_to_config` and :func:`save_config`."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from snncc.errors import ConfigError, SnnccError
from snncc.frontend import library
from snncc.frontend.assembly import Assembly
from snncc.frontend.network import Group, Network, Subgroup
from snncc.io.config.files import FORMAT_VERSION, _format_of, dump_text
from snncc.io.config.quantities import (
    _TIME,
    _array_unit,
    _is_number,
    _NotLiteral,
    _try_quantity,
    format_quantity,
)
from snncc.io.config.registry import (
    _DEFAULT_KIND,
    OBJECT_SECTIONS,
    SHARED_ATTRIBUTES,
    ObjectKind,
    _join,
    _kind_of,
)
from snncc.io.config.run import RunSettings
from snncc.units import Quantity, get_dimension, get_value


def _code(text: str) -> str:
    """Multi-line code (equations, event code) dedented, without blank edges or trailing
    spaces, so YAML writes it as a readable ``|`` block; one-line code is unchanged."""
    if "\n" not in text:
        return text
    lines = [line.rstrip() for line in textwrap.dedent(text).splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


class SaveContext:
    """Encodes values while a network is written (given to ``to_config``).

    ``models`` collects the ``models:`` section.
    """

    def __init__(self, net: Any) -> None:
        self.net = net
        self.models: dict[str, dict[str, Any]] = {}
        self._model_keys: dict[int, str] = {}

    def fail(self, path: str, what: str) -> ConfigError:
        return ConfigError(f"{path}: {what} cannot be written to a config; nothing was "
                           "written")

    def value(self, v: object, path: str, *, expr: bool = False) -> Any:
        """A number, quantity, array or (with ``expr``) expression string as config
        data (inline; big arrays move to the sidecar later)."""
        if isinstance(v, str):
            if not expr:
                raise self.fail(path, f"the string {v!r} (only init, weight, delay, rates "
                                "and refractory take expressions)")
            try:
                _try_quantity(v)
            except (_NotLiteral, SnnccError):
                return v
            return {"expr": v}  # a string that would read back as a quantity
        if isinstance(v, (bool, np.bool_)) or v is None:
            raise self.fail(path, f"the value {v!r}")
        if isinstance(v, (int, np.integer)):
            return int(v)
        if _is_number(v):
            return float(v)  # type: ignore[arg-type]
        if hasattr(v, "detach") and hasattr(v, "cpu"):  # a torch tensor
            v = v.detach().cpu().numpy()
        if isinstance(v, Quantity):
            if v.ndim == 0:
                return format_quantity(v)
            arr = np.asarray(v.value, dtype=np.float64)
            if arr.ndim != 1:
                raise self.fail(path, f"an array of shape {arr.shape}")
            unit, vals = _array_unit(arr, v.dim)
            return {"values": vals.tolist(), "unit": unit}
        if isinstance(v, (list, tuple)):
            try:
                d, arr = get_dimension(list(v)), np.asarray(get_value(list(v)))
            except (SnnccError, TypeError, ValueError):
                raise self.fail(path, f"the value {v!r}") from None
            return self.value(arr if d.is_dimensionless else Quantity(arr, d), path)
        if isinstance(v, np.ndarray):
            if v.ndim == 0:
                return self.value(v.item(), path, expr=expr)
            if v.ndim != 1 or v.dtype.kind not in "iuf":
                raise self.fail(path, f"an array of shape {v.shape} and dtype {v.dtype}")
            return v.tolist()
        raise self.fail(path, f"{type(v).__name__} {v!r}")

    def member(self, obj: object, path: str) -> str:
        """The path of an assembly or group of this network (``"l1"``, ``"l1.exc"``)."""
        if not isinstance(obj, (Assembly, Group)):
            raise self.fail(path, f"the reference {obj!r} (an assembly or a group is "
                            "needed)")
        if obj is self.net or obj.network is not self.net:
            raise self.fail(path, f"a reference to {obj!r}, which is not a member of this "
                            "network,")
        return str(obj.path)

    def ref(self, g: object, path: str) -> str:
        """A group or slice as ``"P"`` / ``"P[0:3200]"`` (``"l1.exc"`` in an assembly)."""
        if isinstance(g, Subgroup):
            self._member(g.parent, path)
            return f"{getattr(g.parent, 'path', g.parent.name)}[{g.start}:{g.stop}]"
        if isinstance(g, Group):
            self._member(g, path)
            return str(getattr(g, "path", g.name))
        raise self.fail(path, f"the reference {g!r}")

    def _member(self, g: Any, path: str) -> None:
        if getattr(g, "network", None) is not self.net:
            raise self.fail(path, f"a reference to group {g.name!r}, which is not part of "
                            "this network,")

    def neuron_model(self, model: Any, path: str) -> str:
        """The ``model:`` of a group: a library name, or a key of ``models:``."""
        spec = self._neuron_model_spec(model, path)
        if model.name in library.names():
            try:
                lib = self._neuron_model_spec(library.get(model.name), path)
            except ConfigError:  # pragma: no cover - library models are writable
                lib = None
            if lib == spec:
                return str(model.name)
        return self._add_model(model, spec)

    def synapse_model(self, model: Any, path: str) -> str:
        spec: dict[str, Any] = {"kind": "synapse"}
        if model.equations.text.strip():
            spec["equations"] = _code(model.equations.text)
        for k in ("on_pre", "on_post"):
            if getattr(model, k) is not None:
                spec[k] = _code(getattr(model, k))
        if model.method is not None:
            spec["method"] = model.method
        if model.delay is not None:
            spec["delay"] = self.value(model.delay, f"{path}.delay")
        if model.params:
            spec["params"] = {k: self.value(v, f"{path}.params.{k}")
                              for k, v in model.params.items()}
        if model.doc:
            spec["doc"] = model.doc
        return self._add_model(model, spec)

    def _neuron_model_spec(self, model: Any, path: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"equations": _code(model.equations.text)}
        for k in ("threshold", "reset"):
            if getattr(model, k) is not None:
                spec[k] = _code(getattr(model, k))
        if model.refractory is not None:
            spec["refractory"] = self.value(model.refractory, f"{path}.refractory",
                                            expr=True)
        if model.params:
            spec["params"] = {k: self.value(v, f"{path}.params.{k}")
                              for k, v in model.params.items()}
        if model.init:
            spec["init"] = {k: self.value(v, f"{path}.init.{k}", expr=True)
                            for k, v in model.init.items()}
        if model.method is not None:
            spec["method"] = model.method
        if model.doc:
            spec["doc"] = model.doc
        return spec

    def _add_model(self, model: Any, spec: dict[str, Any]) -> str:
        key = self._model_keys.get(id(model))
        if key is not None:
            return key
        name = str(model.name)
        for k, existing in self.models.items():
            if existing.get("name", k) == name and {**existing, "name": name} == {
                    **spec, "name": name}:
                self._model_keys[id(model)] = k
                return k
        key, n = name, 1
        while key in self.models:
            key, n = f"{name}_{n}", n + 1
        self.models[key] = spec if key == name else {**spec, "name": name}
        self._model_keys[id(model)] = key
        return key


def network_to_config(net: Any, *, run: RunSettings | Mapping[str, Any] | None = None
                      ) -> dict[str, Any]:
    """The config of a network built in Python (arrays inline).

    Raises:
        ConfigError: if something cannot be written exactly (a Python callable as a
            condition, an object kind without a registered writer, ...).
    """
    if not isinstance(net, Network):
        raise ConfigError(f"save_config needs a snncc.Network, got {type(net).__name__}")
    net._assign_names()
    ctx = SaveContext(net)
    cfg: dict[str, Any] = {"version": FORMAT_VERSION,
                           "network": {"name": net.name,
                                       "dt": format_quantity(Quantity(net.dt, _TIME)),
                                       "seed": None if net.seed is None else int(net.seed)}}
    if getattr(net, "schedule", "brian2") != "brian2":
        cfg["network"]["schedule"] = net.schedule
    sections: dict[str, dict[str, Any]] = {s: {} for s in ("assemblies", *OBJECT_SECTIONS)}
    _write_members(net, ctx, sections)
    if ctx.models:
        cfg["models"] = ctx.models
    for s in ("assemblies", *OBJECT_SECTIONS):
        if sections[s]:
            cfg[s] = sections[s]
    if run is not None:
        cfg["run"] = run.to_config() if isinstance(run, RunSettings) else dict(run)
    return cfg


def _write_members(container: Any, ctx: SaveContext,
                   sections: dict[str, dict[str, Any]]) -> None:
    """The members of ``container``, depth first, into ``sections`` under their paths;
    an assembly (of any class, unless a kind is registered for it) into ``assemblies``."""
    for obj in container.members:
        kind = _kind_of(obj)
        if kind is None and isinstance(obj, Assembly):
            entry: dict[str, Any] = {"hidden": True} if obj._hidden else {}
            sections["assemblies"][obj.path] = entry
            _write_members(obj, ctx, sections)
            continue
        if kind is None:
            raise ConfigError(f"{type(obj).__name__} {obj.path!r} cannot be written to a "
                              "config: no writer is registered for it (see "
                              "snncc.io.config.register_kind); nothing was written")
        path = f"{kind.section}.{obj.path}"
        spec = kind.to_config(obj, ctx, path)
        _check_attributes(obj, kind, path)
        if kind.name != _DEFAULT_KIND.get(kind.section):
            spec = {"kind": kind.name, **spec}
        if getattr(obj, "_hidden", False):  # assembly_hide(): left out of the build
            spec["hidden"] = True
        sections[kind.section][obj.path] = spec


def _empty(v: object) -> bool:
    if v is None or v is False:
        return True
    return isinstance(v, (str, tuple, list, dict, set, frozenset)) and len(v) == 0


def _check_attributes(obj: object, kind: ObjectKind, path: str) -> None:
    if kind.attributes is None:
        return
    for k, v in vars(obj).items():
        if k.startswith("_") or k in SHARED_ATTRIBUTES or k in kind.attributes or _empty(v):
            continue
        raise ConfigError(f"{path}: {type(obj).__name__} {getattr(obj, 'name', '')!r} has "
                          f"{k}={v!r}, which the config writer of kind {kind.name!r} does not "
                          "save; it would be lost, so nothing was written (teach the writer "
                          "with snncc.io.config.register_kind)")


def _externalize(node: Any, path: str, arrays: dict[str, np.ndarray], file: str,
                 limit: int) -> Any:
    def numeric(x: Any) -> bool:
        return isinstance(x, list) and len(x) > limit and all(
            _is_number(e) for e in x)

    if numeric(node):
        arrays[path] = np.asarray(node)
        return {"npz": file, "key": path}
    if isinstance(node, dict):
        if set(node) <= {"values", "unit"} and numeric(node.get("values")):
            arrays[path] = np.asarray(node["values"], dtype=np.float64)
            return {"npz": file, "key": path,
                    **({"unit": node["unit"]} if "unit" in node else {})}
        return {k: _externalize(v, _join(path, k), arrays, file, limit)
                for k, v in node.items()}
    return node


def save_config(net: Any, path: str | Path, *, run: RunSettings | Mapping[str, Any] | None = None,
                inline_max: int = 64) -> Path:
    """Write ``net`` as YAML (``.yaml``/``.yml``) or JSON (``.json``).

    Arrays longer than ``inline_max`` go to ``<name>.npz`` next to the file. Loading
    the file with :func:`load_config` builds a network that simulates identically
    (same seed, backend and device). ``run`` adds a ``run:`` section.

    Returns:
        The path written.
    """
    out = Path(path)
    fmt = _format_of(out)
    cfg = network_to_config(net, run=run)
    arrays: dict[str, np.ndarray] = {}
    sidecar = out.with_suffix(".npz")
    cfg = _externalize(cfg, "", arrays, sidecar.name, int(inline_max))
    text = dump_text(cfg, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    if arrays:
        np.savez_compressed(sidecar, **arrays)  # type: ignore[arg-type]
    out.write_text(text)
    return out
