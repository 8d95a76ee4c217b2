"""Reading config values while a network is built: :class:`LoadContext`."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from snncc.errors import ConfigError, SnnccError, did_you_mean
from snncc.frontend import library
from snncc.frontend.assembly import Assembly
from snncc.frontend.network import Group
from snncc.io.config.models import _neuron_model_from, _synapse_model_from
from snncc.io.config.quantities import (
    _TIME,
    _is_number,
    _NotLiteral,
    _try_quantity,
    parse_quantity,
)
from snncc.io.config.registry import _join, check_keys
from snncc.units import DIMENSIONLESS, Dimension, Quantity, get_dimension, get_value

# a group reference: a (dotted) name, optionally sliced: P, P[0:3200], P[5], l1.exc
_REF = re.compile(r"^\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*"
                  r"(?:\[\s*(-?\d*)\s*(:?)\s*(-?\d*)\s*\])?\s*$", re.ASCII)


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


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
