"""Code generators. Each backend turns an IR program (after the passes) into source
code plus the data it needs; the runtime runs it."""

from __future__ import annotations

from types import ModuleType

from snncc.errors import BackendError, ParameterError

BACKENDS = ("torch", "triton")


def get_backend(name: str) -> ModuleType:
    """The backend module ``name`` (it has ``generate(program) -> Generated``)."""
    if name == "torch":
        from snncc.backends.torch import codegen

        return codegen
    if name == "triton":
        from snncc.kernels import import_triton

        try:
            import_triton()
        except ImportError as exc:
            raise BackendError(f"backend 'triton' is not available: {exc}; use "
                               "backend='torch'") from None
        from snncc.backends.triton import codegen as triton_codegen

        return triton_codegen
    raise ParameterError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)} "
                         "(or 'auto')")
