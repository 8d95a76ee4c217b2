"""Hand-written Triton primitives that generated code calls (shipped as
``snncc.kernels``): portable math (:mod:`~snncc.kernels.smath`), counter-based random
numbers (:mod:`~snncc.kernels.rng`) and spike compaction (:mod:`~snncc.kernels.spikes`).

Triton decides when it is imported whether kernels run compiled (on a GPU) or in its
CPU interpreter (``TRITON_INTERPRET=1``). :func:`import_triton` is the one place that
makes that choice for snncc: on a machine without CUDA it turns the interpreter on
before Triton is first imported, so every Triton function (snncc's and Triton's own
``tl.sum`` ...) is built for the same mode.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType


def interpreting() -> bool:
    """True when Triton kernels run in the CPU interpreter."""
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def import_triton() -> ModuleType:
    """Import ``triton`` (turning the interpreter on first where CUDA is unavailable).

    Raises ImportError with an install hint if Triton is not installed."""
    if "triton" not in sys.modules:
        import torch

        if not torch.cuda.is_available():
            os.environ.setdefault("TRITON_INTERPRET", "1")
    try:
        import triton
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise ImportError("the triton backend needs Triton: pip install 'snncc[triton]' "
                          f"(or pip install triton) ({exc})") from exc
    return triton
