"""Code generators. Each backend turns an IR program (after the passes) into source
code plus the data it needs; the runtime runs it. Each backend is registered below by
one line (:mod:`snncc.backends.registry`); the first is the reference backend."""

from __future__ import annotations

from snncc.backends.base import Backend
from snncc.backends.registry import auto, get, lookup, names, reference, register, unregister
from snncc.backends.torch.backend import TorchBackend
from snncc.backends.triton.backend import TritonBackend

register(TorchBackend())
register(TritonBackend())

get_backend = get  # the name earlier releases exported

__all__ = ["BACKENDS", "Backend", "auto", "get", "get_backend", "lookup", "names",
           "reference", "register", "unregister"]


def __getattr__(name: str) -> tuple[str, ...]:
    """``BACKENDS``: the registered names now (a live view of the registry)."""
    if name == "BACKENDS":
        return names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
