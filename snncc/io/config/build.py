"""Building the network a config describes: :func:`load_config`, :func:`load_run` and
:func:`locate_error` (errors found later, named by config path)."""

from __future__ import annotations

import heapq
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from snncc.errors import ConfigError, SnnccError, did_you_mean
from snncc.frontend.assembly import Assembly
from snncc.frontend.network import Network
from snncc.frontend.objects import detached
from snncc.io.config.files import _source, read_config
from snncc.io.config.load import LoadContext
from snncc.io.config.quantities import _TIME
from snncc.io.config.registry import (
    _DEFAULT_KIND,
    _KINDS,
    OBJECT_SECTIONS,
    _kind_of,
    _wrap,
    check_keys,
)
from snncc.io.config.run import RunSettings, _network_section, run_settings
from snncc.units import Quantity


def load_config(src: str | Path | Mapping[str, Any], *, base_dir: str | Path | None = None
                ) -> Any:
    """Build the :class:`~snncc.Network` a config describes; its objects are also its
    attributes (``net.P``, ``net.spikes``) unless a name is taken by the network itself.

    Args:
        src: a .yaml/.yml/.json file or a mapping (see :mod:`snncc.io.config`).
        base_dir: where relative ``npz`` paths of a mapping point (default: the file's
            folder, or the current directory for a mapping).

    Raises:
        ConfigError: naming the config path (``groups.P.params.tau``) of a bad value.
    """
    cfg, base = _source(src)
    if base_dir is not None:
        base = Path(base_dir)
    cfg = read_config(cfg)
    if cfg.get("sweep"):
        raise ConfigError("sweep: this config describes several runs; expand it with "
                          "expand_sweeps(config) and load each")
    n = _network_section(cfg)
    tmp = LoadContext(cfg, base, None, None)
    dt = tmp.time(n["dt"], "network.dt") if n.get("dt") is not None else 1e-4
    seed = n.get("seed")
    if seed is not None:
        seed = tmp.integer(seed, "network.seed", 0)
    name = tmp.string(n.get("name", "net"), "network.name")
    schedule = tmp.string(n.get("schedule", "brian2"), "network.schedule")
    net = _wrap("network", lambda: Network(dt=Quantity(dt, _TIME), seed=seed, name=name,
                                           schedule=schedule))
    run_settings(cfg)  # the run: section is checked too
    ctx = LoadContext(cfg, base, seed, net)
    models = cfg.get("models") or {}
    check_keys(models, list(models), "models")
    for key, spec in models.items():  # every model is checked, used or not
        kind = spec.get("kind", "neuron") if isinstance(spec, Mapping) else None
        if kind not in ("neuron", "synapse"):
            raise ConfigError(f"models.{key}.kind: must be neuron or synapse, got {kind!r}"
                              if kind else f"models.{key}: expected a mapping, got {spec!r}")
        (ctx.neuron_model if kind == "neuron" else ctx.synapse_model)(key, f"models.{key}")
    asms = cfg.get("assemblies") or {}
    if not isinstance(asms, Mapping):
        raise ConfigError(f"assemblies: expected a mapping of assembly paths (l1, l1.sub) "
                          f"to {{}} or {{hidden: true}}, got {asms!r}")
    for key, spec in asms.items():
        _build_assembly(str(key), spec, ctx, f"assemblies.{key}")
    for section in OBJECT_SECTIONS:
        entries = cfg.get(section) or {}
        if not isinstance(entries, Mapping):
            raise ConfigError(f"{section}: expected a mapping of names to "
                              f"{section[:-1]} specs, got {entries!r}")
        for name, spec in entries.items():
            path = f"{section}.{name}"
            _build_object(section, str(name), spec, ctx, path)
    _order_members(net, [ctx.order.get(s, []) for s in ("assemblies", *OBJECT_SECTIONS)])
    return net


def _container(key: str, ctx: LoadContext, path: str) -> tuple[Any, str]:
    """(the container, the name) of the object at path ``key`` (``"l1.exc"``)."""
    parts = key.split(".")
    if not all(part.isidentifier() for part in parts):
        raise ConfigError(f"{path}: the name {key!r} must be a Python identifier (letters, "
                          "digits, _), or the path of a member of an assembly such as "
                          "'l1.exc'")
    if key in ctx.objects:
        raise ConfigError(f"{path}: the name {key!r} is used twice; names are shared by "
                          "assemblies, groups, connections and monitors")
    if len(parts) == 1:
        return ctx.net, key
    owner = ".".join(parts[:-1])
    asm = ctx.objects.get(owner)
    if not isinstance(asm, Assembly):
        known = [k for k, o in ctx.objects.items() if isinstance(o, Assembly)]
        where = ("the assemblies declared before it" if path.startswith("assemblies.")
                 else "assemblies")
        raise ConfigError(f"{path}: {key!r} is a member of {owner!r}, which is not an "
                          f"assembly; declare it under assemblies: (parents first; "
                          f"{where}: {', '.join(known) or 'none'})")
    return asm, parts[-1]


def _build_assembly(key: str, spec: object, ctx: LoadContext, path: str) -> None:
    parent, name = _container(key, ctx, path)
    s = check_keys({} if spec is None else spec, ("hidden",), path)
    hidden = ctx.boolean(s.get("hidden", False), f"{path}.hidden")
    with detached():
        asm = Assembly(name)
    _wrap(path, lambda: parent.add(asm))
    if hidden:
        asm.assembly_hide()
    ctx.objects[key] = asm
    ctx.order.setdefault("assemblies", []).append(asm)


def _order_members(root: Any, sequences: Sequence[Sequence[Any]]) -> None:
    """Reorder the members of every container so that walking the network meets the
    objects of each sequence (a config section) in that sequence's order: the order of
    the saved network (objects were created section by section)."""
    # per container: the sequence of its members that each section passes through
    runs: dict[int, list[list[Any]]] = {}
    for n, seq in enumerate(sequences):
        for obj in seq:
            child, node = obj, obj.parent
            while node is not None:
                lst = runs.setdefault(id(node), [[] for _ in sequences])[n]
                if not lst or lst[-1] is not child:
                    lst.append(child)
                child, node = node, node.parent

    def order(container: Any) -> None:
        members = container._members
        if len(members) > 1 and id(container) in runs:
            index = {id(m): n for n, m in enumerate(members)}
            after: dict[int, set[int]] = {n: set() for n in range(len(members))}
            before = [0] * len(members)
            for lst in runs[id(container)]:
                for a, b in zip(lst, lst[1:]):
                    x, y = index[id(a)], index[id(b)]
                    if y not in after[x]:
                        after[x].add(y)
                        before[y] += 1
            ready = [n for n in range(len(members)) if before[n] == 0]
            heapq.heapify(ready)
            done: list[int] = []
            placed = [False] * len(members)
            while len(done) < len(members):
                if not ready:  # an inconsistent hand-written order: the first left
                    ready = [min(n for n in range(len(members)) if not placed[n])]
                n = heapq.heappop(ready)
                if placed[n]:
                    continue
                placed[n] = True
                done.append(n)
                for m in after[n]:
                    before[m] -= 1
                    if before[m] == 0 and not placed[m]:
                        heapq.heappush(ready, m)
            members[:] = [members[n] for n in done]
        for m in container._members:
            if isinstance(m, Assembly):
                order(m)

    order(root)


def _build_object(section: str, name: str, spec: object, ctx: LoadContext, path: str) -> None:
    key = name
    container, name = _container(key, ctx, path)
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{path}: expected a mapping, got {spec!r}")
    choices = [k.name for k in _KINDS.values() if k.section == section]
    kind_name = spec.get("kind", _DEFAULT_KIND.get(section))
    if kind_name is None:
        raise ConfigError(f"{path}.kind: missing; one of {', '.join(choices)}")
    kind = _KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if kind is None or kind.section != section:
        raise ConfigError(f"{path}.kind: unknown {section[:-1]} kind {kind_name!r}; one of "
                          f"{', '.join(choices)}{did_you_mean(str(kind_name), choices)}")
    s = check_keys(spec, ("kind", *kind.keys, "hidden"), path, kind.required)
    s.pop("kind", None)
    hidden = ctx.boolean(s.pop("hidden", False), f"{path}.hidden")
    with ctx.net:
        if container is ctx.net:
            obj = kind.from_config(name, s, ctx, path)
        else:
            with container:
                obj = kind.from_config(name, s, ctx, path)
    if getattr(obj, "name", name) is None:
        obj.name = name
    if hidden:
        obj.assembly_hide()
    ctx.objects[key] = obj
    ctx.order.setdefault(section, []).append(obj)
    if container is ctx.net and not hasattr(ctx.net, name):  # net.P, net.spikes, ...
        try:
            setattr(ctx.net, name, obj)
        except SnnccError:  # pragma: no cover - attribute access is a convenience
            pass


def locate_error(net: Any, error: SnnccError) -> ConfigError:
    """A :class:`ConfigError` for an error raised while compiling a network loaded from a
    config (units are checked then), prefixed with the config path of the object it
    names (``groups.P: NeuronGroup 'P' ...``)."""
    if isinstance(error, ConfigError):
        return error
    text = str(error)
    objs = [(o, _kind_of(o)) for o in net.objects]
    objs = [(o, k) for o, k in objs if k is not None]
    # the build names an object by its path (l1.exc -> 'l1_exc'), a projection's
    # connections '<projection>_<pre>_<post>'; then plain names
    for obj, kind in objs:
        base = str(obj.path).replace(".", "_")
        if f"'{base}'" in text or (kind.name == "projection" and f"'{base}_" in text):
            return ConfigError(f"{kind.section}.{obj.path}: {text}")
    for obj, kind in objs:
        if f"'{obj.name}'" in text:
            return ConfigError(f"{kind.section}.{obj.path}: {text}")
    m = re.match(r"(synapse )?model '([^']+)'", text)
    if m:  # an error in a model's own text: the objects that use the model
        users = [f"{k.section}.{o.path}" for o, k in objs
                 if getattr(getattr(o, "model", None), "name", None) == m.group(2)]
        if users:  # several objects share the model: one of them is wrong
            return ConfigError(f"{' or '.join(users)}: {text}")
    return ConfigError(text)


def load_run(src: str | Path | Mapping[str, Any], *, base_dir: str | Path | None = None
             ) -> tuple[Any, RunSettings]:
    """``(network, run settings)`` of a config (without sweeps)."""
    cfg, base = _source(src)
    return load_config(cfg, base_dir=base_dir or base), run_settings(cfg)
