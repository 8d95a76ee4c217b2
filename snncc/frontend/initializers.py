"""Weight initializers for connections (SPAIC's ``w_init`` names, torch.nn.init's
formulas), drawn from the network's seeded generator so a seed fixes the weights.

``Connection(..., weight=sc.initializers.kaiming_uniform())`` or, SPAIC-style,
``Connection(..., w_init="normal", w_init_param={"mean": 0.5, "std": 0.1})``.
Values are plain numbers unless ``unit=`` is given (``unit=mV`` for ``on_pre="v += w"``
on a model in volts). Fans: ``fan_in`` is the mean number of synapses per postsynaptic
neuron (``n_pre`` for full connectivity, ``in_channels*k*k`` for conv), ``fan_out`` the
mean per presynaptic neuron.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from snncc.errors import ParameterError


@dataclass(frozen=True)
class Initializer:
    """A weight distribution; :meth:`sample` draws an array of a given shape."""

    name: str
    params: tuple[tuple[str, float | str], ...]
    unit: Any = None

    def _p(self, key: str) -> Any:
        return dict(self.params)[key]

    def sample(self, shape: tuple[int, ...], fan_in: float, fan_out: float,
               rng: np.random.Generator) -> Any:
        """Weights of ``shape``, as plain numbers (the unit is applied by
        :func:`sample_weights`)."""
        n = self.name
        if n == "constant":
            out = np.full(shape, float(self._p("value")))
        elif n == "uniform":
            out = rng.uniform(self._p("a"), self._p("b"), size=shape)
        elif n == "normal":
            out = rng.normal(self._p("mean"), self._p("std"), size=shape)
        elif n.startswith("xavier"):
            gain = float(self._p("gain"))
            std = gain * math.sqrt(2.0 / max(fan_in + fan_out, 1e-300))
            out = (rng.uniform(-math.sqrt(3) * std, math.sqrt(3) * std, size=shape)
                   if n == "xavier_uniform" else rng.normal(0.0, std, size=shape))
        else:  # kaiming
            fan = fan_in if self._p("mode") == "fan_in" else fan_out
            a = float(self._p("a"))
            gain = {"relu": math.sqrt(2.0), "linear": 1.0, "sigmoid": 1.0,
                    "tanh": 5.0 / 3.0,
                    "leaky_relu": math.sqrt(2.0 / (1 + a * a))}[str(self._p("nonlinearity"))]
            std = gain / math.sqrt(max(fan, 1e-300))
            out = (rng.uniform(-math.sqrt(3) * std, math.sqrt(3) * std, size=shape)
                   if n == "kaiming_uniform" else rng.normal(0.0, std, size=shape))
        return out


def _num(name: str, key: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(v)):
        raise ParameterError(f"weight initializer '{name}': {key} must be a finite number, "
                             f"got {v!r} (give units with unit=..., e.g. unit=mV)")
    return float(v)


def constant(value: float = 0.0, *, unit: Any = None) -> Initializer:
    """Every weight ``value``."""
    return Initializer("constant", (("value", _num("constant", "value", value)),), unit)


def uniform(a: float = 0.0, b: float = 1.0, *, unit: Any = None) -> Initializer:
    """Uniform on ``[a, b)``."""
    a, b = _num("uniform", "a", a), _num("uniform", "b", b)
    if b < a:
        raise ParameterError(f"weight initializer 'uniform': needs a <= b, got a={a}, b={b}")
    return Initializer("uniform", (("a", a), ("b", b)), unit)


def normal(mean: float = 0.0, std: float = 1.0, *, unit: Any = None) -> Initializer:
    """Normal with ``mean`` and standard deviation ``std``."""
    std = _num("normal", "std", std)
    if std < 0:
        raise ParameterError(f"weight initializer 'normal': std must be >= 0, got {std}")
    return Initializer("normal", (("mean", _num("normal", "mean", mean)), ("std", std)),
                       unit)


def _xavier(kind: str, gain: float, unit: Any) -> Initializer:
    gain = _num(kind, "gain", gain)
    if gain <= 0:
        raise ParameterError(f"weight initializer '{kind}': gain must be > 0, got {gain}")
    return Initializer(kind, (("gain", gain),), unit)


def xavier_uniform(gain: float = 1.0, *, unit: Any = None) -> Initializer:
    """Glorot & Bengio 2010: uniform with std ``gain*sqrt(2/(fan_in+fan_out))``."""
    return _xavier("xavier_uniform", gain, unit)


def xavier_normal(gain: float = 1.0, *, unit: Any = None) -> Initializer:
    """Glorot & Bengio 2010: normal with std ``gain*sqrt(2/(fan_in+fan_out))``."""
    return _xavier("xavier_normal", gain, unit)


def _kaiming(kind: str, a: float, mode: str, nonlinearity: str, unit: Any) -> Initializer:
    if mode not in ("fan_in", "fan_out"):
        raise ParameterError(f"weight initializer '{kind}': mode must be 'fan_in' or "
                             f"'fan_out', got {mode!r}")
    known = ("relu", "leaky_relu", "linear", "sigmoid", "tanh")
    if nonlinearity not in known:
        raise ParameterError(f"weight initializer '{kind}': nonlinearity must be one of "
                             f"{', '.join(known)}, got {nonlinearity!r}")
    return Initializer(kind, (("a", _num(kind, "a", a)), ("mode", mode),
                              ("nonlinearity", nonlinearity)), unit)


def kaiming_uniform(a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    *, unit: Any = None) -> Initializer:
    """He et al. 2015, uniform (``torch.nn.init.kaiming_uniform_``'s formula)."""
    return _kaiming("kaiming_uniform", a, mode, nonlinearity, unit)


def kaiming_normal(a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                   *, unit: Any = None) -> Initializer:
    """He et al. 2015, normal (``torch.nn.init.kaiming_normal_``'s formula)."""
    return _kaiming("kaiming_normal", a, mode, nonlinearity, unit)


_BY_NAME = {
    "constant": constant, "uniform": uniform, "normal": normal,
    "xavier_uniform": xavier_uniform, "xavier_normal": xavier_normal,
    "xavier_noraml": xavier_normal,  # SPAIC's spelling
    "xavier": xavier_uniform, "kaiming_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal, "kaiming": kaiming_uniform,
}
# SPAIC's parameter names
_ALIASES = {"constant_value": "value", "constant": "value"}


def from_spaic(name: str, params: Mapping[str, Any] | None = None, *, unit: Any = None,
               who: str = "Connection") -> Initializer:
    """The initializer SPAIC's ``w_init=name, w_init_param=params`` describes."""
    if name not in _BY_NAME:
        raise ParameterError(f"{who}: unknown w_init {name!r}; use one of "
                             f"{', '.join(sorted(k for k in _BY_NAME if k != 'xavier_noraml'))}")
    kwargs = {_ALIASES.get(k, k): v for k, v in dict(params or {}).items()}
    try:
        return _BY_NAME[name](**kwargs, unit=unit)
    except TypeError as exc:
        raise ParameterError(f"{who}: w_init_param {dict(params or {})!r} does not fit "
                             f"w_init={name!r} ({exc})") from None


def sample_weights(init: Initializer, i: np.ndarray, j: np.ndarray, n_pre: int,
                   n_post: int, rng: np.random.Generator,
                   kernel: tuple[tuple[int, ...], np.ndarray] | None = None) -> Any:
    """One weight per synapse ``(i, j)``; ``kernel = (kernel shape (out, in, kh, kw),
    kernel index of each synapse)`` draws a convolution kernel and gathers from it, so
    the initial weights are those of a true convolution."""
    S = int(i.shape[0])
    if kernel is not None:
        shape, index = kernel
        fan_in = float(np.prod(shape[1:]))
        fan_out = float(shape[0] * np.prod(shape[2:]))
        w = init.sample(tuple(shape), fan_in, fan_out, rng).reshape(-1)[index]
    else:
        w = init.sample((S,), S / max(n_post, 1), S / max(n_pre, 1), rng)
    return w * init.unit if init.unit is not None else w
