"""The triton backend as the registry sees it: fused Triton kernels, launched in chunks
of steps by the device loop; on a CUDA GPU, or on the CPU in Triton's interpreter. Triton
itself is imported only when the backend is used."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any, Literal

import torch

from snncc.backends.common import Generated, LayerCode
from snncc.backends.triton import codegen, layer
from snncc.ir import program as ir
from snncc.ir.layer import LayerStep
from snncc.kernels import import_triton


class TritonBackend:
    """:class:`~snncc.backends.base.Backend` ``triton``."""

    name = "triton"
    loop: Literal["host", "device"] = "device"
    artifact: Literal["python"] = "python"
    # block tags sit on lines of their own in these templates: drop those lines
    template_options: Mapping[str, Any] = {"trim_blocks": True, "lstrip_blocks": True}
    comment_marker = "#"
    comment_closer = ""
    source_kind = "kernels"

    def available(self) -> str | None:
        """None once Triton imports (switching its interpreter on without CUDA)."""
        try:
            import_triton()
        except ImportError as exc:
            return f"{exc}; use backend='torch'"
        return None

    def check_device(self, device: torch.device) -> None:
        """:func:`snncc.backends.triton.codegen.check_device`."""
        codegen.check_device(device)

    def prefer_on(self, device: torch.device) -> bool:
        """On a CUDA device where Triton is installed (found without importing it)."""
        return device.type == "cuda" and importlib.util.find_spec("triton") is not None

    def generate(self, program: ir.Program) -> Generated:
        """:func:`snncc.backends.triton.codegen.generate`."""
        return codegen.generate(program)

    def generate_layer(self, step: LayerStep) -> LayerCode:
        """:func:`snncc.backends.triton.layer.generate_layer`."""
        return layer.generate_layer(step)

    def excerpt(self, source: str) -> list[str]:
        """The generated kernels (from the first ``@triton.jit`` on)."""
        lines = source.splitlines()
        start = next((k for k, line in enumerate(lines) if line.startswith("@triton.jit")),
                     0)
        return lines[start:]
