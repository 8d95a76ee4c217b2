"""The torch backend as the registry sees it: one generated step function of torch
operations per network, driven step by step from the host; runs on every torch device.
It is the reference backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch

from snncc.backends.base import step_code
from snncc.backends.common import Generated, LayerCode
from snncc.backends.torch import codegen, layer
from snncc.ir import program as ir
from snncc.ir.layer import LayerStep


class TorchBackend:
    """:class:`~snncc.backends.base.Backend` ``torch``."""

    name = "torch"
    loop: Literal["host", "device"] = "host"
    artifact: Literal["python"] = "python"
    template_options: Mapping[str, Any] = {}
    comment_marker = "#"
    comment_closer = ""
    source_kind = "step code"

    def available(self) -> str | None:
        """Always None: torch is a dependency of snncc."""
        return None

    def check_device(self, device: torch.device) -> None:
        """Nothing to check: generated torch code runs on every device torch knows."""

    def prefer_on(self, device: torch.device) -> bool:
        """False: the reference backend is what ``"auto"`` falls back to."""
        return False

    def generate(self, program: ir.Program) -> Generated:
        """:func:`snncc.backends.torch.codegen.generate`."""
        return codegen.generate(program)

    def generate_layer(self, step: LayerStep) -> LayerCode:
        """:func:`snncc.backends.torch.layer.generate_layer`."""
        return layer.generate_layer(step)

    def excerpt(self, source: str) -> list[str]:
        """The body of the generated ``step`` function."""
        return step_code(source)
