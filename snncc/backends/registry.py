"""The one list of backends. Each is registered by one line in
``snncc/backends/__init__.py``; the runtime, the layers, the CLI, the templates and the
tests ask here which backends exist, which one a name means and which one ``"auto"``
picks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from snncc.errors import BackendError, ParameterError, did_you_mean

if TYPE_CHECKING:
    import torch

    from snncc.backends.base import Backend

AUTO = "auto"  # the backend name that lets the registry choose per device

_BACKENDS: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    """Add ``backend`` under its name (the first registered is the reference backend)."""
    if backend.name == AUTO or backend.name in _BACKENDS:
        raise ParameterError(f"a backend named {backend.name!r} is already registered "
                             f"(or reserved); registered: {', '.join(_BACKENDS)}")
    _BACKENDS[backend.name] = backend
    return backend


def unregister(name: str) -> None:
    """Remove the backend ``name``."""
    lookup(name)
    del _BACKENDS[name]


def names() -> tuple[str, ...]:
    """The registered backend names, in registration order."""
    return tuple(_BACKENDS)


def lookup(name: str, where: str = "") -> Backend:
    """The registered backend ``name``, whether or not it can run here; a
    ParameterError (naming ``where``, suggesting close names) for an unknown one."""
    if name not in _BACKENDS:
        prefix = f"{where}: " if where else ""
        raise ParameterError(f"{prefix}unknown backend {name!r}"
                             f"{did_you_mean(name, _BACKENDS)}; available: "
                             f"{', '.join(_BACKENDS)} (or {AUTO!r})")
    return _BACKENDS[name]


def get(name: str, where: str = "") -> Backend:
    """The backend ``name``, ready to use: a ParameterError for an unknown name, a
    BackendError with the fix for one that cannot run here."""
    backend = lookup(name, where)
    reason = backend.available()
    if reason is not None:
        raise BackendError(f"backend {name!r} is not available: {reason}")
    return backend


def reference() -> Backend:
    """The reference backend (the first registered: torch), which every other backend
    is tested against and ``"auto"`` falls back to."""
    return next(iter(_BACKENDS.values()))


def auto(device: torch.device) -> Backend:
    """What ``backend="auto"`` means on ``device``: the first registered backend that
    prefers it, else the reference backend."""
    return next((b for b in _BACKENDS.values() if b.prefer_on(device)), reference())


def select(name: str, device: torch.device, where: str = "") -> Backend:
    """The backend ``name`` (or ``"auto"``'s choice on ``device``), ready to use."""
    return get(auto(device).name if name == AUTO else name, where)
