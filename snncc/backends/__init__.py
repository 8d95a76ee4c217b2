"""Code generators. Each backend turns an IR program (after the passes) into source
code plus the data it needs; the runtime runs it."""

from __future__ import annotations

from types import ModuleType

from snncc.errors import ParameterError

BACKENDS = ("torch",)


def get_backend(name: str) -> ModuleType:
    """The backend module ``name`` (it has ``generate(program) -> Generated``)."""
    if name == "torch":
        from snncc.backends.torch import codegen

        return codegen
    raise ParameterError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)} "
                         "(or 'auto')")
