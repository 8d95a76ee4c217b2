"""The base of everything a network is made of, and the ``with`` context.

An object created inside ``with container:`` (a :class:`~snncc.frontend.network.Network`
or an :class:`~snncc.frontend.assembly.Assembly`, in a function, a test or a notebook)
becomes a member of the innermost open container. Each object has at most one parent.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from snncc.frontend.assembly import Assembly
    from snncc.frontend.network import Network

_context = threading.local()


def context_stack() -> list[Assembly]:
    """The open ``with`` containers of this thread, innermost last."""
    if not hasattr(_context, "stack"):
        _context.stack = []
    return _context.stack


def current_assembly() -> Assembly | None:
    """The container of the innermost active ``with`` block, if any."""
    st = context_stack()
    return st[-1] if st else None


@contextlib.contextmanager
def detached() -> Iterator[None]:
    """Create objects that belong to no container, even inside a ``with`` block."""
    st = context_stack()
    saved = list(st)
    st.clear()
    try:
        yield
    finally:
        st[:] = saved


class NetworkObject:
    """Base of groups, connections, monitors, nodes and assemblies."""

    _kind = "object"

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.parent: Assembly | None = None
        self._hidden = False
        asm = current_assembly()
        if asm is not None:
            asm._adopt(self)

    @property
    def network(self) -> Network | None:
        """The network this object belongs to (through its assemblies), if any."""
        from snncc.frontend.network import Network

        node: NetworkObject | None = self
        while node is not None:
            if isinstance(node, Network):
                return node
            node = node.parent
        return None

    @property
    def path(self) -> str:
        """Dotted path from the network, e.g. ``"layer1.exc"``."""
        from snncc.frontend.network import Network

        parts = [self.name or f"<unnamed {self._kind}>"]
        node = self.parent
        while node is not None and not isinstance(node, Network):
            parts.append(node.name or f"<unnamed {node._kind}>")
            node = node.parent
        return ".".join(reversed(parts))

    @property
    def hidden(self) -> bool:
        """True if this object or one of its assemblies is hidden (left out of build)."""
        node: NetworkObject | None = self
        while node is not None:
            if node._hidden:
                return True
            node = node.parent
        return False

    def assembly_hide(self) -> None:
        """Leave this object (and, for an assembly, all its members) out of the next
        build; connections and monitors touching it are left out too."""
        self._hidden = True

    def assembly_show(self) -> None:
        """Undo :meth:`assembly_hide`."""
        self._hidden = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
