"""Networks described in YAML or JSON: load, save, sweeps.

A config is a mapping with these sections (all optional but ``groups``)::

    version: 1
    network: {name: cuba, dt: "0.1*ms", seed: 0}
    models:                       # reusable models (a group may also name a library model)
      mylif: {equations: "dv/dt = (El - v)/tau : volt", threshold: "v > Vt",
              reset: "v = Vr", refractory: "5*ms", params: {tau: "10*ms", ...}}
      stdp:  {kind: synapse, equations: "...", on_pre: "...", on_post: "..."}
    groups:
      P:   {size: 4000, model: cuba, params: {...}, init: {v: "Vr + rand()*(Vt - Vr)"}}
      inp: {kind: poisson, size: 100, rates: "15*Hz"}
      gen: {kind: generator, size: 2, indices: [0, 1], times: {values: [1, 2], unit: ms}}
    connections:
      Ce: {pre: "P[0:3200]", post: P, p: 0.02, on_pre: "ge += we", params: {we: "1.62*mV"}}
    monitors:
      spikes: {kind: spike, source: P}
      vm:     {kind: state, source: P, variables: [v], record: [0, 1]}
      rate:   {kind: rate, source: P}
    run: {duration: "1*second", chunk: "100*ms", backend: auto, device: cpu,
          dtype: float32, batch: 1}
    sweep:
      grid: {groups.P.params.tau: ["10*ms", "20*ms"]}   # Cartesian product
      zip:  {connections.Ce.p: [0.01, 0.02],            # varied together
             connections.Ci.p: [0.01, 0.02]}

Values: numbers (bare times mean ms, bare rates Hz, as in the Python API), quantity
strings (``"20*mV"``, ``"[1, 2]*ms"``), lists, ``{values: [...], unit: mV}``,
``{npz: file.npz, key: ..., unit: ...}`` (a sidecar array, path relative to the config
file) and, for per-neuron values, distributions drawn deterministically from the network
seed and the value's config path: ``{dist: uniform, low, high}``, ``{dist: normal, mean,
std}``, ``{dist: lognormal, mean, std}``, ``{dist: choice, values, p}``. Where expression
strings are allowed (``init``, ``weight``, ``delay``, ``rates``, ``refractory``), a string
that is not a plain quantity is an expression; ``{expr: "..."}`` forces one.

Assemblies (:mod:`snncc.frontend.assembly`) are listed, parents first, under
``assemblies:``; a member of one is named by its path in its section, and references
(``pre``, ``post``, ``source``, ``target``) use paths too::

    assemblies:
      l1: {}                      # an Assembly at the top level of the network
      l1.sub: {hidden: true}      # nested in l1, hidden (assembly_hide)
    groups:
      l1.exc: {size: 80, model: lif, types: [exc]}
      l1.sub.inh: {size: 20, model: lif, hidden: true}   # any object can be hidden
      img: {kind: encoder, shape: [1, 8, 8], coding: poisson}
      fmap: {size: 72, model: lif, shape: [2, 6, 6]}
    connections:
      l1.ei: {pre: l1.exc, post: l1.sub.inh, on_pre: "v += 1*mV"}
      conv: {pre: img, post: fmap, link_type: conv, kernel_size: 3, on_pre: "v += w*mV",
             w_init: kaiming_uniform, w_init_param: {a: 0.0, mode: fan_in,
                                                     nonlinearity: leaky_relu}}
      proj: {kind: projection, pre: l1, post: l2, p: 0.1, on_pre: "v += 0.5*mV",
             policies: [{kind: included_type, pre: [exc]},
                        {kind: excluded_type, post: [inh]},
                        {kind: index, pairs: [[0, 0], [1, 0]]}]}

The order of each section is the network's (depth first), so a loaded network builds
its objects in the same order and simulates identically. An ``Assembly`` subclass is
written as a plain assembly with its members (loading gives ``Assembly`` objects with the
same members, names and paths). Weights drawn by an initializer (``w_init``/``weight=
sc.init...``) are written as ``w_init``, ``w_init_param``, ``w_unit``, not as samples, so
the seed draws them again; a convolution as ``link_type: conv`` with ``kernel_size``,
``stride`` and ``padding``; ``link_type: sparse`` with ``density`` reads as ``p``.

New object kinds plug in with :func:`register_kind`.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import itertools
import json
import math
import numbers
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snncc.errors import ConfigError, SnnccError, did_you_mean
from snncc.units import (
    DIMENSIONLESS,
    Dimension,
    Quantity,
    get_dimension,
    get_value,
    unit_namespace,
)

__all__ = [
    "FORMAT_VERSION", "SHARED_ATTRIBUTES", "LoadContext", "ObjectKind", "RunSettings",
    "SaveContext",
    "check_keys", "dump_text", "expand_sweeps", "format_quantity", "kinds", "load_config",
    "load_run", "locate_error", "network_to_config", "npz_files", "parse_quantity",
    "read_config", "register_kind", "relocate_npz", "run_settings", "save_config",
]

FORMAT_VERSION = 1
#: Object sections, in the order they are built.
OBJECT_SECTIONS = ("groups", "connections", "monitors")
_TOP_KEYS = ("version", "network", "models", "assemblies", *OBJECT_SECTIONS, "run",
             "sweep")
_DEFAULT_KIND = {"groups": "neurons", "connections": "synapses"}
_UNITS = unit_namespace()
_TIME = Dimension(s=1)
# preferred units for writing values, most preferred first
_PREFERRED = ("ms", "us", "ns", "second", "mV", "uV", "volt", "nA", "pA", "uA", "mA", "amp",
              "nS", "uS", "mS", "siemens", "pF", "nF", "uF", "farad", "Hz", "kHz", "ohm",
              "kohm", "Mohm", "Gohm", "um", "mm", "cm", "metre", "mM", "uM")
_REF = re.compile(r"^\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*"
                  r"(?:\[\s*(-?\d*)\s*(:?)\s*(-?\d*)\s*\])?\s*$", re.ASCII)


# ------------------------------------------------------------------------ YAML/JSON
def _yaml() -> Any:
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


# ---------------------------------------------------------------------------- quantities
class _NotLiteral(Exception):
    """The text is not a plain quantity literal (numbers, units, + - * / **, lists)."""


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Expression):
        return _literal(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _UNITS:
            return _UNITS[node.id]
        if node.id in ("inf", "nan"):
            return float(node.id)
        raise _NotLiteral(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        x = _literal(node.operand)
        return -x if isinstance(node.op, ast.USub) else +x
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult,
                                                            ast.Div, ast.Pow)):
        a, b = _literal(node.left), _literal(node.right)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if isinstance(node.op, ast.Div):
            return a / b
        # as floats: Python computes 10**10**10 exactly on ints, which never ends
        return (float(a) if isinstance(a, int) else a) ** b
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(e) for e in node.elts]
        dim = get_dimension(items) if items else DIMENSIONLESS
        arr = np.asarray([get_value(x) for x in items], dtype=np.float64)
        return arr if dim.is_dimensionless else Quantity(arr, dim)
    raise _NotLiteral(type(node).__name__)


def _try_quantity(text: str) -> Any:
    """The value of a quantity literal, or ``_NotLiteral`` raised for anything else."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        raise _NotLiteral(text) from None
    try:
        value = _literal(tree)
    except (ZeroDivisionError, OverflowError, TypeError, ValueError, RecursionError) as e:
        raise ConfigError(f"cannot be evaluated: {e}") from None
    if isinstance(value, Quantity):
        return Quantity(value.value, value.dim)  # a Unit becomes a plain Quantity
    if isinstance(value, np.ndarray):
        return value
    return float(value)


def parse_quantity(text: str, path: str = "value") -> float | np.ndarray | Quantity:
    """The value of a quantity string such as ``"20*mV"``, ``"0.5"`` or ``"[1, 2]*ms"``
    (a float or array when dimensionless). ``path`` names the value in errors."""
    if not isinstance(text, str):
        raise ConfigError(f"{path}: expected a quantity string such as '20*mV', got "
                          f"{text!r}")
    try:
        return _try_quantity(text)
    except _NotLiteral:
        raise ConfigError(f"{path}: {text!r} is not a quantity; write a number times a unit, "
                          "e.g. '20*mV', '0.1*ms', '15*Hz' or '[1, 2]*ms'") from None
    except SnnccError as e:
        raise ConfigError(f"{path}: {text!r}: {e}") from None


def _unit_text(dim: Dimension) -> tuple[str, float]:
    """The SI unit of ``dim`` as text that evaluates to scale 1.0."""
    text = str(dim)
    value = _try_quantity(text)
    if get_dimension(value) != dim or get_value(value) != 1.0:  # pragma: no cover
        raise ConfigError(f"cannot write a unit for dimension {dim!r}")
    return text, 1.0


def _candidates(dim: Dimension) -> list[tuple[str, float]]:
    out = [(n, float(_UNITS[n].value)) for n in _PREFERRED if _UNITS[n].dim == dim]
    si = _unit_text(dim)
    if si[0] not in [n for n, _ in out]:
        out.append(si)
    return out


def _short(x: float, exact: Callable[[float], bool]) -> str | None:
    """The shortest decimal text of about ``x`` that is ``exact``."""
    for p in range(1, 18):
        f = float(f"{x:.{p}g}")
        if exact(f):
            text = repr(f)
            return text[:-2] if text.endswith(".0") else text
    return None


def format_quantity(value: float | Quantity) -> str | float:
    """A scalar as written in a config: ``0.02*second`` -> ``"20*ms"`` (the shortest text
    that reads back exactly, in a common unit); a plain number stays a number."""
    if not isinstance(value, Quantity):
        return float(value)
    v = float(value.value)
    if not math.isfinite(v):
        return f"{v}*{_unit_text(value.dim)[0]}"
    best: tuple[int, int, str] | None = None
    for rank, (name, scale) in enumerate(_candidates(value.dim)):
        s = _short(v / scale, lambda f, scale=scale: f * scale == v)
        if s is not None and (best is None or (len(s), rank) < best[:2]):
            best = (len(s), rank, f"{s}*{name}")
    if best is None:  # pragma: no cover - the SI unit always reads back exactly
        raise ConfigError(f"cannot write {value} exactly")
    return best[2]


def _array_unit(arr: np.ndarray, dim: Dimension) -> tuple[str, np.ndarray]:
    """(unit, values in it) reading back exactly with ``values * scale``."""
    for name, scale in _candidates(dim):
        vals = np.asarray((arr / scale).tolist(), dtype=np.float64)
        if np.array_equal(vals * scale, arr, equal_nan=True):
            return name, vals
    raise ConfigError(f"cannot write an array of {dim} exactly")  # pragma: no cover


# -------------------------------------------------------------------------- run settings
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
        import torch

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


# ------------------------------------------------------------------------------ registry
@dataclass(frozen=True)
class ObjectKind:
    """How one kind of network object is written to and read from a config.

    Attributes:
        name: the ``kind:`` value (``neurons``, ``poisson``, ``spike``, ...).
        section: ``groups``, ``connections`` or ``monitors``.
        cls: the Python class (objects are matched by ``isinstance``, latest
            registration first).
        to_config: ``(obj, ctx: SaveContext, path) -> dict`` (without ``kind``).
        from_config: ``(name, spec, ctx: LoadContext, path) -> obj``; called inside
            ``with`` the object's container (the network, or the assembly of a dotted
            path such as ``l1.exc``), it must create the object with ``name=name`` (the
            last part of the path). ``hidden: true`` is handled for every kind.
        keys: the keys its spec may have (besides ``kind``).
        required: the keys it must have.
        attributes: the object attributes ``to_config`` writes; saving refuses an object
            with another public attribute set (not empty/None) unless it is in
            :data:`SHARED_ATTRIBUTES`, so nothing is silently left out. ``None``: no
            check.
    """

    name: str
    section: str
    cls: type
    to_config: Callable[[Any, SaveContext, str], dict[str, Any]]
    from_config: Callable[[str, dict[str, Any], LoadContext, str], Any]
    keys: tuple[str, ...]
    required: tuple[str, ...] = ()
    attributes: frozenset[str] | None = None


#: Attributes every network object has that no writer needs to save (membership).
SHARED_ATTRIBUTES = {"name", "network", "parent"}


_KINDS: dict[str, ObjectKind] = {}


def register_kind(name: str, *, section: str, cls: type,
                  to_config: Callable[[Any, SaveContext, str], dict[str, Any]],
                  from_config: Callable[[str, dict[str, Any], LoadContext, str], Any],
                  keys: Sequence[str], required: Sequence[str] = (),
                  attributes: Sequence[str] | None = None) -> None:
    """Teach configs a new object kind (see :class:`ObjectKind`); re-registering a name
    replaces it."""
    if section not in OBJECT_SECTIONS:
        raise ConfigError(f"register_kind({name!r}): section must be one of "
                          f"{', '.join(OBJECT_SECTIONS)}, got {section!r}")
    if not set(required) <= set(keys):
        raise ConfigError(f"register_kind({name!r}): required keys must be among keys")
    _KINDS.pop(name, None)
    _KINDS[name] = ObjectKind(name, section, cls, to_config, from_config, tuple(keys),
                              tuple(required),
                              None if attributes is None else frozenset(attributes))


def kinds() -> dict[str, ObjectKind]:
    """The registered object kinds, by name."""
    return dict(_KINDS)


def _kind_of(obj: object) -> ObjectKind | None:
    for k in reversed(list(_KINDS.values())):
        if type(obj) is k.cls:
            return k
    for k in reversed(list(_KINDS.values())):
        if isinstance(obj, k.cls):
            return k
    return None


# ------------------------------------------------------------------------------ helpers
def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def check_keys(spec: object, known: Sequence[str], path: str,
               required: Sequence[str] = ()) -> dict[str, Any]:
    """``spec`` as a dict, after checking it is a mapping with only ``known`` keys and
    all ``required`` ones."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a mapping (key: value), got "
                          f"{type(spec).__name__} {spec!r}")
    for k in spec:
        if k not in known:
            raise ConfigError(f"{_join(path, k)}: unknown key {k!r}; known keys: "
                              f"{', '.join(known)}{did_you_mean(str(k), known)}")
    for k in required:
        if k not in spec:
            raise ConfigError(f"{_join(path, k)}: missing; {path or 'the config'} needs "
                              f"{', '.join(required)}")
    return dict(spec)


def _is_number(x: object) -> bool:
    return isinstance(x, (numbers.Real, np.integer, np.floating)) and not isinstance(
        x, (bool, np.bool_))


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


# --------------------------------------------------------------------------- loading
class LoadContext:
    """Decodes config values while a network is built (given to ``from_config``).

    Attributes:
        config: the whole config; ``base_dir``: where ``npz`` paths are relative to;
        ``seed``: the network seed (``None``: random); ``objects``: built objects and
        assemblies by path (``P``, ``l1``, ``l1.exc``); ``net``: the network being built.
    """

    def __init__(self, config: dict[str, Any], base_dir: Path, seed: int | None,
                 net: Any) -> None:
        self.config = config
        self.base_dir = base_dir
        self.seed = seed
        self.net = net
        self.objects: dict[str, Any] = {}
        # objects in config order, per section ("assemblies" included): the member
        # order of every container is restored from them once everything is built
        self.order: dict[str, list[Any]] = {}
        self._entropy = (int(seed) if seed is not None
                         else int(np.random.SeedSequence().entropy % 2**63))
        self._models: dict[str, Any] = {}

    # ---------------------------------------------------------------- scalars
    def string(self, v: object, path: str) -> str:
        """``v``, which must be a string."""
        if not isinstance(v, str):
            raise ConfigError(f"{path}: expected a string, got {type(v).__name__} {v!r}")
        return v

    def integer(self, v: object, path: str, minimum: int | None = None) -> int:
        """``v``, which must be an integer (``>= minimum``)."""
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ConfigError(f"{path}: expected an integer, got {v!r}")
        if minimum is not None and v < minimum:
            raise ConfigError(f"{path}: must be >= {minimum}, got {v}")
        return int(v)

    def number(self, v: object, path: str) -> float:
        """``v``, which must be a number, as a float."""
        if not _is_number(v):
            raise ConfigError(f"{path}: expected a number, got {v!r}")
        return float(v)  # type: ignore[arg-type]

    def boolean(self, v: object, path: str) -> bool:
        """``v``, which must be true or false."""
        if not isinstance(v, bool):
            raise ConfigError(f"{path}: expected true or false, got {v!r}")
        return v

    def time(self, v: object, path: str) -> float:
        """A time in seconds: a quantity string, or a bare number meaning ms."""
        x = self.value(v, path)
        if isinstance(x, Quantity):
            if x.dim != _TIME or x.ndim:
                raise ConfigError(f"{path}: expected a time such as '0.1*ms', got {v!r}")
            return float(x.value)
        if isinstance(x, np.ndarray):
            raise ConfigError(f"{path}: expected one time such as '0.1*ms', got {v!r}")
        return float(x) * 1e-3

    # ---------------------------------------------------------------- values
    def value(self, v: object, path: str, *, expr: bool = False, size: int | None = None,
              dist_expr: bool = False) -> Any:
        """A parameter/initial value: number, quantity, array, distribution or (with
        ``expr``) an expression string.

        ``size`` is the number of elements a distribution draws; with ``dist_expr``,
        uniform and normal distributions become ``rand()``/``randn()`` expressions
        (for per-synapse values, drawn when the network is built).
        """
        if isinstance(v, bool) or v is None:
            raise ConfigError(f"{path}: expected a number, a quantity such as '20*mV' or a "
                              f"list, got {v!r}")
        if _is_number(v):
            return v
        if isinstance(v, str):
            try:
                return _try_quantity(v)
            except _NotLiteral:
                if expr:
                    return v
                raise ConfigError(f"{path}: {v!r} is not a quantity; write a number times a "
                                  "unit, e.g. '20*mV', '10*ms' or '15*Hz' (expression "
                                  "strings are allowed in init, weight, delay and rates "
                                  "only)") from None
            except SnnccError as e:
                raise ConfigError(f"{path}: {v!r}: {e}") from None
        if isinstance(v, list):
            return self._list(v, path)
        if isinstance(v, Mapping):
            if "dist" in v:
                return self._dist(v, path, size, dist_expr)
            if "expr" in v:
                spec = check_keys(v, ("expr",), path)
                if not expr:
                    raise ConfigError(f"{path}: expression strings are allowed in init, "
                                      "weight, delay and rates only")
                return self.string(spec["expr"], _join(path, "expr"))
            return self.array(v, path)
        raise ConfigError(f"{path}: cannot read {type(v).__name__} {v!r} as a value")

    def _list(self, v: list, path: str) -> Any:
        items = [self.value(x, f"{path}[{k}]") for k, x in enumerate(v)]
        try:
            dim = get_dimension(items) if items else DIMENSIONLESS
            arr = np.asarray([get_value(x) for x in items])
        except (SnnccError, TypeError, ValueError) as e:
            raise ConfigError(f"{path}: a list of numbers or quantities in one unit is "
                              f"needed: {e}") from None
        if arr.dtype.kind not in "iuf" and arr.size:
            raise ConfigError(f"{path}: a list of numbers or quantities in one unit is "
                              "needed")
        if arr.size and arr.ndim != 1:
            raise ConfigError(f"{path}: expected a flat list of numbers, got shape {arr.shape}")
        return arr if dim.is_dimensionless else Quantity(arr.astype(np.float64), dim)

    def _unit(self, v: object, path: str) -> tuple[Dimension, float]:
        if v is None:
            return DIMENSIONLESS, 1.0
        u = parse_quantity(self.string(v, path), path)
        return get_dimension(u), float(get_value(u))

    def array(self, v: object, path: str, *, integer: bool = False) -> Any:
        """An array: a list, ``{values: [...], unit: u}`` or ``{npz: f, key: k, unit: u}``
        (``integer``: int64 indices)."""
        if isinstance(v, list):
            arr = self._list(v, path) if not integer else self._ints(v, path)
            return arr
        if not isinstance(v, Mapping):
            raise ConfigError(f"{path}: expected a list or {{values: [...], unit: ...}}, got "
                              f"{v!r}")
        if "npz" in v:
            spec = check_keys(v, ("npz", "key", "unit"), path, ("npz", "key"))
            raw = self._npz(spec, path)
            unit = spec.get("unit")
        else:
            spec = check_keys(v, ("values", "unit"), path, ("values",))
            if not isinstance(spec["values"], list):
                raise ConfigError(f"{_join(path, 'values')}: expected a list of numbers")
            raw = self._ints(spec["values"], _join(path, "values")) if integer else \
                np.asarray([self.number(x, f"{path}.values[{k}]")
                            for k, x in enumerate(spec["values"])], dtype=np.float64)
            unit = spec.get("unit")
        if integer:
            if unit is not None:
                raise ConfigError(f"{path}: indices have no unit; remove 'unit'")
            if raw.size and raw.dtype.kind not in "iu":
                raise ConfigError(f"{path}: expected integer indices")
            return raw.astype(np.int64)
        dim, scale = self._unit(unit, _join(path, "unit"))
        if raw.dtype.kind not in "iuf" and raw.size:
            raise ConfigError(f"{path}: expected numbers, got an array of {raw.dtype}")
        if dim.is_dimensionless and scale == 1.0:
            return raw
        return Quantity(np.asarray(raw, dtype=np.float64) * scale, dim)

    def _ints(self, v: list, path: str) -> np.ndarray:
        for k, x in enumerate(v):
            if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
                raise ConfigError(f"{path}[{k}]: expected an integer index, got {x!r}")
        return np.asarray(v, dtype=np.int64)

    def _npz(self, spec: Mapping[str, Any], path: str) -> np.ndarray:
        file = Path(self.string(spec["npz"], _join(path, "npz")))
        if not file.is_absolute():
            file = self.base_dir / file
        key = self.string(spec["key"], _join(path, "key"))
        if not file.is_file():
            raise ConfigError(f"{path}: array file {file} does not exist (it is written next "
                              "to the config by save_config; keep them together)")
        with np.load(file, allow_pickle=False) as z:
            if key not in z.files:
                raise ConfigError(f"{path}: {file} has no array {key!r}")
            return np.asarray(z[key])

    # ---------------------------------------------------------------- distributions
    _DISTS = {"uniform": ("low", "high"), "normal": ("mean", "std"),
              "lognormal": ("mean", "std"), "choice": ("values",)}

    def rng(self, path: str) -> np.random.Generator:
        """The generator of the value at ``path``: fixed by the network seed and the
        path, so draws do not depend on the order of the config."""
        return np.random.default_rng([self._entropy, _stable_hash(path)])

    def _dist(self, v: Mapping[str, Any], path: str, size: int | None,
              as_expr: bool) -> Any:
        name = v.get("dist")
        if name not in self._DISTS:
            raise ConfigError(f"{_join(path, 'dist')}: unknown distribution {name!r}; known: "
                              f"{', '.join(self._DISTS)}{did_you_mean(str(name), self._DISTS)}")
        need = self._DISTS[name]
        spec = check_keys(v, ("dist", *need, *(("p",) if name == "choice" else ())), path,
                          need)
        if name == "choice":
            vals = self.value(spec["values"], _join(path, "values"))
            if not isinstance(vals, (np.ndarray, Quantity)) or np.ndim(get_value(vals)) != 1:
                raise ConfigError(f"{path}.values: expected a list of values to choose from")
            p = None
            if "p" in spec:
                p = np.asarray(get_value(self.value(spec["p"], _join(path, "p"))),
                               dtype=np.float64)
                if p.shape != np.shape(get_value(vals)) or abs(p.sum() - 1) > 1e-9 or (
                        p < 0).any():
                    raise ConfigError(f"{path}.p: one probability per value, >= 0, summing "
                                      "to 1")
            if as_expr or size is None:
                raise self._no_size(path, name, as_expr)
            idx = self.rng(path).choice(len(get_value(vals)), size=size, p=p)
            raw = np.asarray(get_value(vals), dtype=np.float64)[idx]
            d = get_dimension(vals)
            return raw if d.is_dimensionless else Quantity(raw, d)
        a, b = (self.value(spec[k], _join(path, k)) for k in need)
        for k, x in zip(need, (a, b)):
            if np.ndim(get_value(x)) != 0:
                raise ConfigError(f"{path}.{k}: expected one value, got an array")
        da, db = get_dimension(a), get_dimension(b)
        if da != db:
            raise ConfigError(f"{path}: {need[0]} and {need[1]} must have the same unit, got "
                              f"{spec[need[0]]!r} and {spec[need[1]]!r}")
        x, y = float(get_value(a)), float(get_value(b))
        if name == "uniform" and not x <= y:
            raise ConfigError(f"{path}: low must be <= high, got {spec['low']!r} and "
                              f"{spec['high']!r}")
        if name in ("normal", "lognormal") and y < 0:
            raise ConfigError(f"{path}.std: must be >= 0, got {spec['std']!r}")
        if name == "lognormal" and x <= 0:
            raise ConfigError(f"{path}.mean: a lognormal mean must be > 0, got "
                              f"{spec['mean']!r}")
        if as_expr:
            if name == "lognormal":
                raise self._no_size(path, name, True)
            lo, hi = (f"({_expr_text(spec[k])})" for k in need)
            return (f"{lo} + rand()*({hi} - {lo})" if name == "uniform"
                    else f"{lo} + randn()*{hi}")
        if size is None:
            raise self._no_size(path, name, False)
        rng = self.rng(path)
        if name == "uniform":
            raw = rng.uniform(x, y, size)
        elif name == "normal":
            raw = rng.normal(x, y, size)
        else:
            sigma2 = math.log1p((y / x) ** 2)
            raw = rng.lognormal(math.log(x) - sigma2 / 2, math.sqrt(sigma2), size)
        return raw if da.is_dimensionless else Quantity(raw, da)

    @staticmethod
    def _no_size(path: str, name: str, synapses: bool) -> ConfigError:
        if synapses:
            return ConfigError(f"{path}: per-synapse values support the uniform and normal "
                               f"distributions (drawn when the network is built); for "
                               f"{name!r} write an expression with rand()/randn()")
        return ConfigError(f"{path}: a distribution draws one value per neuron, so it "
                           "belongs in a group's params, init or rates (a model's defaults "
                           "are shared)")

    # ---------------------------------------------------------------- references
    def group(self, ref: object, path: str) -> Any:
        """A group by name, or a slice of one: ``"P"``, ``"P[0:3200]"``, ``"P[5]"``
        (a dotted name such as ``"layer1.exc"`` for objects a plug-in kind registered in
        :attr:`objects` under their path)."""
        from snncc.frontend.network import Group

        m = _REF.match(ref) if isinstance(ref, str) else None
        if m is None:
            raise ConfigError(f"{path}: expected a group name or a slice such as "
                              f"'P[0:3200]', got {ref!r}")
        name, a, colon, b = m.groups()
        g = self.objects.get(name)
        if g is None or not isinstance(g, Group):
            groups = [k for k, o in self.objects.items() if isinstance(o, Group)]
            raise ConfigError(f"{path}: no group named {name!r}; groups: "
                              f"{', '.join(groups) or 'none'}")
        if a is None:
            return g
        try:
            if colon:
                return g[slice(int(a) if a else None, int(b) if b else None)]
            if not a or b:
                raise ConfigError(f"{path}: bad slice {ref!r}; write 'P[0:100]' or 'P[5]'")
            return g[int(a)]
        except SnnccError as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"{path}: {e}") from None

    def node(self, ref: object, path: str) -> Any:
        """An assembly or a whole group by path (``"l1"``, ``"l1.exc"``, ``"P"``): what a
        projection connects."""
        from snncc.frontend.assembly import Assembly
        from snncc.frontend.network import Group

        obj = self.objects.get(ref) if isinstance(ref, str) else None
        if not isinstance(obj, (Assembly, Group)):
            asms = [k for k, o in self.objects.items() if isinstance(o, Assembly)]
            groups = [k for k, o in self.objects.items() if isinstance(o, Group)]
            what = ("is not an assembly or a group" if obj is not None
                    else "names no assembly or group")
            raise ConfigError(f"{path}: {ref!r} {what}; assemblies: "
                              f"{', '.join(asms) or 'none'}; groups: "
                              f"{', '.join(groups) or 'none'}")
        return obj

    def neuron_model(self, ref: object, path: str) -> Any:
        """A neuron model: a ``models:`` name, a library name, equations, or a mapping."""
        from snncc.frontend import library

        if isinstance(ref, Mapping):
            return _neuron_model_from(ref.get("name", "custom"), ref, self, path)
        if not isinstance(ref, str):
            raise ConfigError(f"{path}: expected a model name or a mapping, got {ref!r}")
        models = self.config.get("models") or {}
        if ref in models:
            if ref not in self._models:
                mpath = f"models.{ref}"
                spec = models[ref]
                kind = spec.get("kind", "neuron") if isinstance(spec, Mapping) else None
                if kind != "neuron":
                    raise ConfigError(f"{path}: model {ref!r} is a {kind} model; a group "
                                      "needs a neuron model")
                self._models[ref] = _neuron_model_from(spec.get("name", ref), spec, self,
                                                       mpath)
            return self._models[ref]
        if ref in library.names() or "=" in ref or ":" in ref:
            return ref
        raise ConfigError(f"{path}: unknown model {ref!r}; define it under models: or use "
                          f"a library model: {', '.join(library.names())}"
                          + (f" (models: {', '.join(models)})" if models else "")
                          + did_you_mean(str(ref), [*library.names(), *models]))

    def synapse_model(self, ref: object, path: str) -> Any:
        """A synapse model: a ``models:`` name (``kind: synapse``) or a mapping."""
        if isinstance(ref, Mapping):
            return _synapse_model_from(ref.get("name", "synapse"), ref, self, path)
        models = self.config.get("models") or {}
        if not isinstance(ref, str) or ref not in models:
            syn = [k for k, s in models.items()
                   if isinstance(s, Mapping) and s.get("kind") == "synapse"]
            raise ConfigError(f"{path}: unknown synapse model {ref!r}; define it under "
                              f"models: with kind: synapse (defined: "
                              f"{', '.join(syn) or 'none'}) or give the mapping inline")
        if ref not in self._models:
            spec = models[ref]
            if not isinstance(spec, Mapping) or spec.get("kind", "neuron") != "synapse":
                raise ConfigError(f"{path}: model {ref!r} is not a synapse model; give it "
                                  "kind: synapse")
            self._models[ref] = _synapse_model_from(spec.get("name", ref), spec, self,
                                                    f"models.{ref}")
        return self._models[ref]

    def mapping(self, v: object, path: str, convert: Callable[[object, str], Any]
                ) -> dict[str, Any]:
        """A mapping of names to values, each read with ``convert(value, path)``."""
        if v is None:
            return {}
        if not isinstance(v, Mapping):
            raise ConfigError(f"{path}: expected a mapping of names to values, got {v!r}")
        return {str(k): convert(x, _join(path, k)) for k, x in v.items()}


def _expr_text(v: object) -> str:
    return repr(float(v)) if _is_number(v) else str(v)  # type: ignore[arg-type]


_NEURON_MODEL_KEYS = ("kind", "name", "equations", "threshold", "reset", "refractory",
                      "params", "init", "method", "doc")
_SYNAPSE_MODEL_KEYS = ("kind", "name", "equations", "on_pre", "on_post", "delay", "params",
                       "method", "doc")


def _opt_str(spec: Mapping[str, Any], key: str, ctx: LoadContext, path: str) -> str | None:
    v = spec.get(key)
    return None if v is None else ctx.string(v, _join(path, key))


def _wrap(path: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn``; a SnnccError it raises is re-raised naming the config path."""
    try:
        return fn()
    except ConfigError:
        raise
    except SnnccError as e:
        raise ConfigError(f"{path}: {e}") from None


def _neuron_model_from(name: object, spec: object, ctx: LoadContext, path: str) -> Any:
    from snncc.frontend.models import NeuronModel

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
    from snncc.frontend.models import SynapseModel

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


# ------------------------------------------------------------------------- saving
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
        from snncc.frontend.assembly import Assembly
        from snncc.frontend.network import Group

        if not isinstance(obj, (Assembly, Group)):
            raise self.fail(path, f"the reference {obj!r} (an assembly or a group is "
                            "needed)")
        if obj is self.net or obj.network is not self.net:
            raise self.fail(path, f"a reference to {obj!r}, which is not a member of this "
                            "network,")
        return str(obj.path)

    def ref(self, g: object, path: str) -> str:
        """A group or slice as ``"P"`` / ``"P[0:3200]"`` (``"l1.exc"`` in an assembly)."""
        from snncc.frontend.network import Group, Subgroup

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
        from snncc.frontend import library

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


# ---------------------------------------------------------------------- builtin kinds
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
    from snncc.frontend.network import NeuronGroup

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
    from snncc.frontend.network import PoissonGroup

    size = ctx.integer(s["size"], f"{path}.size", 1)
    rates = ctx.value(s["rates"], f"{path}.rates", expr=True, size=size)
    return _wrap(path, lambda: PoissonGroup(size, rates, name=name))


def _generator_to(g: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    return {"size": int(g.size), "indices": ctx.value(g.indices, f"{path}.indices"),
            "times": ctx.value(Quantity(np.asarray(g.times, dtype=np.float64), _TIME),
                               f"{path}.times")}


def _generator_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    from snncc.frontend.network import SpikeGeneratorGroup

    size = ctx.integer(s["size"], f"{path}.size", 1)
    idx = ctx.array(s["indices"], f"{path}.indices", integer=True)
    times = s["times"]
    t = ctx.value(times, f"{path}.times") if not isinstance(times, Mapping) else ctx.array(
        times, f"{path}.times")
    if isinstance(t, Quantity) and t.ndim == 0 or _is_number(t):
        raise ConfigError(f"{path}.times: expected a list of times, one per index")
    return _wrap(path, lambda: SpikeGeneratorGroup(size, idx, t, name=name))


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
    from snncc.frontend.initializers import Initializer, from_spaic

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
    from snncc.frontend.connectivity import pairs_conv
    from snncc.frontend.network import split_group

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
    from snncc.frontend.network import Connection

    pre = ctx.group(s["pre"], f"{path}.pre")
    post = ctx.group(s["post"], f"{path}.post")
    kw = _connection_args_from(s, ctx, path)
    return _wrap(path, lambda: Connection(pre, post, name=name, **kw))


def _spikemon_to(m: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    return {"source": ctx.ref(m.source, f"{path}.source")}


def _spikemon_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    from snncc.frontend.monitors import SpikeMonitor

    src = ctx.group(s["source"], f"{path}.source")
    return _wrap(path, lambda: SpikeMonitor(src, name=name))


def _ratemon_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    from snncc.frontend.monitors import PopulationRateMonitor

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
    from snncc.frontend.monitors import StateMonitor

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


def _register_builtins() -> None:
    from snncc.frontend.monitors import PopulationRateMonitor, SpikeMonitor, StateMonitor
    from snncc.frontend.network import (
        Connection,
        NeuronGroup,
        PoissonGroup,
        SpikeGeneratorGroup,
    )

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
    register_kind("synapses", section="connections", cls=Connection, to_config=_synapses_to,
                  from_config=_synapses_from,
                  keys=("pre", "post", *_CONNECTION_KEYS), required=("pre", "post"),
                  attributes=("pre", "post", "model", "params", "init", "weight", "delay",
                              "connect", "p", "fan_in", "condition", "i", "j", "kernel"))
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

_register_builtins()


# ------------------------------------------------------------ SPAIC's nodes
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
    from snncc.frontend.nodes import Encoder, Generator

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


def _generator_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    return _encoder_from(name, s, ctx, path, generator=True)


def _decoder_to(d: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    return {"source": ctx.ref(d.target, f"{path}.source"), "coding": d.coding,
            "variable": d.variable}


def _decoder_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    from snncc.frontend.nodes import Decoder

    src = ctx.group(s["source"], f"{path}.source")
    return _wrap(path, lambda: Decoder(src, s.get("coding", "spike_counts"),
                                       variable=s.get("variable", "v"), name=name))


def _register_nodes() -> None:
    from snncc.frontend.nodes import Decoder, Encoder, Generator

    attrs = (*_ENCODER_KEYS, "model", "params", "init", "data", "rate")
    register_kind("encoder", section="groups", cls=Encoder, to_config=_encoder_to,
                  from_config=_encoder_from, keys=_ENCODER_KEYS, attributes=attrs)
    register_kind("input_generator", section="groups", cls=Generator,
                  to_config=_encoder_to, from_config=_generator_from,
                  keys=("size", "shape", "coding", "rate", "target", "variable",
                        "amplitude", "types"), attributes=attrs)
    register_kind("decoder", section="monitors", cls=Decoder, to_config=_decoder_to,
                  from_config=_decoder_from, keys=("source", "coding", "variable"),
                  required=("source",), attributes=("target", "coding", "variable"))


_register_nodes()


# ------------------------------------------------------- SPAIC's projections
_POLICY_KEYS = {"included_type": ("kind", "pre", "post"),
                "excluded_type": ("kind", "pre", "post"), "index": ("kind", "pairs")}


def _labels_to(v: object, ctx: SaveContext, path: str) -> list[str]:
    if isinstance(v, str) or not isinstance(v, (list, tuple, set, frozenset)) or not all(
            isinstance(x, str) for x in v):
        raise ctx.fail(path, f"the types {v!r} (give a list of labels such as ['exc'])")
    return sorted(v) if isinstance(v, (set, frozenset)) else list(v)


def _policy_to(pol: object, ctx: SaveContext, path: str) -> dict[str, Any]:
    from snncc.frontend.assembly import ExcludedTypePolicy, IncludedTypePolicy, IndexPolicy

    if type(pol) is IncludedTypePolicy:  # None: any type (so left out); []: none
        out: dict[str, Any] = {"kind": "included_type"}
        for side in ("pre", "post"):
            if getattr(pol, side) is not None:
                out[side] = _labels_to(getattr(pol, side), ctx, f"{path}.{side}")
        return out
    if type(pol) is ExcludedTypePolicy:  # empty: nothing excluded (so left out)
        out = {"kind": "excluded_type"}
        for side in ("pre", "post"):
            labels = _labels_to(getattr(pol, side), ctx, f"{path}.{side}")
            if labels:
                out[side] = labels
        return out
    if type(pol) is IndexPolicy:
        try:
            pairs = [[int(a), int(b)] for a, b in pol.pairs]
        except (TypeError, ValueError):
            raise ctx.fail(f"{path}.pairs", f"the pairs {pol.pairs!r} (give (pre, post) "
                           "group positions)") from None
        return {"kind": "index", "pairs": pairs}
    raise ctx.fail(path, f"the policy {pol!r} (configs hold IncludedTypePolicy, "
                   "ExcludedTypePolicy and IndexPolicy)")


def _policy_from(v: object, ctx: LoadContext, path: str) -> Any:
    from snncc.frontend.assembly import ExcludedTypePolicy, IncludedTypePolicy, IndexPolicy

    kind = v.get("kind") if isinstance(v, Mapping) else None
    if not isinstance(v, Mapping) or kind not in _POLICY_KEYS:
        what = (f"unknown policy kind {kind!r}" if isinstance(v, Mapping)
                else f"expected a mapping such as {{kind: included_type, pre: [exc]}}, got "
                     f"{v!r}")
        raise ConfigError(f"{path}{'.kind' if isinstance(v, Mapping) else ''}: {what}; one "
                          f"of {', '.join(_POLICY_KEYS)}")
    s = check_keys(v, _POLICY_KEYS[kind], path, ("pairs",) if kind == "index" else ())

    def labels(side: str) -> list[str] | None:
        x = s.get(side)
        if x is None:
            return None
        x = [x] if isinstance(x, str) else x
        if not isinstance(x, list):
            raise ConfigError(f"{path}.{side}: expected a list of types such as [exc], got "
                              f"{s[side]!r}")
        return [ctx.string(e, f"{path}.{side}[{n}]") for n, e in enumerate(x)]

    if kind == "included_type":
        return IncludedTypePolicy(pre=labels("pre"), post=labels("post"))
    if kind == "excluded_type":
        return ExcludedTypePolicy(pre=labels("pre") or [], post=labels("post") or [])
    pairs = s["pairs"]
    if not isinstance(pairs, list):
        raise ConfigError(f"{path}.pairs: expected a list of [pre, post] group positions, "
                          f"got {pairs!r}")
    out = []
    for n, pr in enumerate(pairs):
        if not isinstance(pr, list) or len(pr) != 2:
            raise ConfigError(f"{path}.pairs[{n}]: expected a pair [pre, post] of group "
                              f"positions, got {pr!r}")
        out.append(tuple(ctx.integer(x, f"{path}.pairs[{n}][{m}]", 0)
                         for m, x in enumerate(pr)))
    return IndexPolicy(pairs=out)


def _projection_to(pr: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"pre": ctx.member(pr.pre, f"{path}.pre"),
                            "post": ctx.member(pr.post, f"{path}.post")}
    if pr.policies:
        spec["policies"] = [_policy_to(p, ctx, f"{path}.policies[{n}]")
                            for n, p in enumerate(pr.policies)]
    spec.update(_connection_args_to(pr.connection, ctx, path))
    return spec


def _projection_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    from snncc.frontend.assembly import Projection
    from snncc.frontend.network import Connection
    from snncc.frontend.objects import detached

    pre = ctx.node(s["pre"], f"{path}.pre")
    post = ctx.node(s["post"], f"{path}.post")
    pols = s.get("policies") or []
    if not isinstance(pols, list):
        raise ConfigError(f"{path}.policies: expected a list of policies such as "
                          f"[{{kind: included_type, pre: [exc]}}], got {pols!r}")
    policies = [_policy_from(v, ctx, f"{path}.policies[{n}]") for n, v in enumerate(pols)]
    kw = _connection_args_from(s, ctx, path, ("pre", "post", "policies"))
    proj = _wrap(path, lambda: Projection(pre, post, policies, name=name, **kw))

    def check() -> None:  # the arguments are used at build: check them now
        base = path.split(".", 1)[1].replace(".", "_")
        with detached():
            for ga, gb in proj.group_pairs(visible_only=False):
                Connection(ga, gb, name=f"{base}_{ga.path.replace('.', '_')}_"
                           f"{gb.path.replace('.', '_')}", **kw)

    _wrap(path, check)
    return proj


def _register_assemblies() -> None:
    from snncc.frontend.assembly import Projection

    register_kind("projection", section="connections", cls=Projection,
                  to_config=_projection_to, from_config=_projection_from,
                  keys=("pre", "post", "policies", *_CONNECTION_KEYS),
                  required=("pre", "post"),
                  attributes=("pre", "post", "policies", "connection"))


_register_assemblies()


# ------------------------------------------------------------------------ reading
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


def _network_section(cfg: Mapping[str, Any]) -> dict[str, Any]:
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


def load_config(src: str | Path | Mapping[str, Any], *, base_dir: str | Path | None = None
                ) -> Any:
    """Build the :class:`~snncc.Network` a config describes; its objects are also its
    attributes (``net.P``, ``net.spikes``) unless a name is taken by the network itself.

    Args:
        src: a .yaml/.yml/.json file or a mapping (see the module docstring).
        base_dir: where relative ``npz`` paths of a mapping point (default: the file's
            folder, or the current directory for a mapping).

    Raises:
        ConfigError: naming the config path (``groups.P.params.tau``) of a bad value.
    """
    from snncc.frontend.network import Network

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
    from snncc.frontend.assembly import Assembly

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
    from snncc.frontend.assembly import Assembly
    from snncc.frontend.objects import detached

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
    import heapq

    from snncc.frontend.assembly import Assembly

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


# ------------------------------------------------------------------------ sweeps
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


# ------------------------------------------------------------------------ writing
def network_to_config(net: Any, *, run: RunSettings | Mapping[str, Any] | None = None
                      ) -> dict[str, Any]:
    """The config of a network built in Python (arrays inline).

    Raises:
        ConfigError: if something cannot be written exactly (a Python callable as a
            condition, an object kind without a registered writer, ...).
    """
    from snncc.frontend.network import Network

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
    from snncc.frontend.assembly import Assembly

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
