"""The interface every backend implements (:class:`Backend`); the registry
(:mod:`snncc.backends.registry`) holds one instance of each."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from snncc.backends.common import Generated, LayerCode
    from snncc.ir import program as ir
    from snncc.ir.layer import LayerStep


@runtime_checkable
class Backend(Protocol):
    """A code generator the runtime, the layers and the CLI drive through the registry.

    Attributes:
        name: what users pass as ``backend=``; its code lives in ``backends/<name>/``,
            its templates in ``templates/<name>/``.
        loop: which runtime loop drives a generated network: ``"host"`` (the runtime
            calls the ``step(n, rec)`` that ``build`` returns once per step:
            :class:`~snncc.runtime.device_loop.HostLoop`) or ``"device"`` (kernels count
            the steps on the device and record into the buffers of
            ``Generated.recorders``: :class:`~snncc.runtime.device_loop.DeviceLoop`).
        artifact: what ``generate`` produces: ``"python"``, the source of a module
            defining ``build``, which the runtime executes once per content and caches
            under its hash (``snncc.runtime.network.load_generated``).
        template_options: keyword options of the Jinja2 environment of
            ``templates/<name>/`` (e.g. ``trim_blocks``).
        comment_marker: what starts a comment in the generated language (``"#"``).
        comment_closer: what ends a comment in the generated language, if comments do
            not end at the end of the line (user text in comments cannot contain it).
        source_kind: what :meth:`excerpt` shows, in words (``"step code"``).
    """

    name: str
    loop: Literal["host", "device"]
    artifact: Literal["python"]
    template_options: Mapping[str, Any]
    comment_marker: str
    comment_closer: str
    source_kind: str

    def available(self) -> str | None:
        """None if the backend can run here, else why not and what to do instead."""

    def check_device(self, device: torch.device) -> None:
        """Raise :class:`~snncc.errors.BackendError` if generated code cannot run on
        ``device`` here."""

    def prefer_on(self, device: torch.device) -> bool:
        """Whether ``backend="auto"`` picks this backend on ``device`` rather than the
        reference backend (the first registered)."""

    def generate(self, program: ir.Program) -> Generated:
        """The generated module of a network ``program`` (after the passes)."""

    def generate_layer(self, step: LayerStep) -> LayerCode:
        """The generated forward and backward of a multi-step layer."""

    def excerpt(self, source: str) -> list[str]:
        """The lines of a generated network ``source`` that show what runs each step
        (``snncc demo`` prints them)."""


def step_code(source: str) -> list[str]:
    """The body of ``def step`` in a generated source (dedented), or all lines if the
    source has no step function."""
    lines = source.splitlines()
    start = next((k for k, line in enumerate(lines) if line.lstrip().startswith("def step(")),
                 None)
    if start is None:
        return lines
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = len(lines)
    for k in range(start + 1, len(lines)):
        line = lines[k]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            end = k
            break
    body = "\n".join(lines[start:end]).rstrip()
    return textwrap.dedent(body).splitlines()
