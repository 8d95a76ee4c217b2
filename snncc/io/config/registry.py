"""The object-kind registry (which codec reads and writes each kind of network object),
key checks and config paths in errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from snncc.errors import ConfigError, SnnccError, did_you_mean

if TYPE_CHECKING:  # the contexts call the codecs registered here
    from snncc.io.config.load import LoadContext
    from snncc.io.config.save import SaveContext

#: Object sections, in the order they are built.
OBJECT_SECTIONS = ("groups", "connections", "monitors")
#: The kind of an entry that names none.
_DEFAULT_KIND = {"groups": "neurons", "connections": "synapses"}


@dataclass(frozen=True)
class ObjectKind:
    """How one kind of network object is written to and read from a config.

    Attributes:
        name: the ``kind:`` value (``neurons``, ``poisson``, ``spike``, ...).
        section: ``groups``, ``connections`` or ``monitors``.
        cls: the Python class (objects are matched by ``isinstance``, latest
            registration first).
        to_config: ``(obj, ctx: SaveContext, path) -> dict`` (without ``kind``).
        from_config: ``(name, spec, ctx: LoadContext, path) -> obj``; called inside
            ``with`` the object's container (the network, or the assembly of a dotted
            path such as ``l1.exc``), it must create the object with ``name=name`` (the
            last part of the path). ``hidden: true`` is handled for every kind.
        keys: the keys its spec may have (besides ``kind``).
        required: the keys it must have.
        attributes: the object attributes ``to_config`` writes; saving refuses an object
            with another public attribute set (not empty/None) unless it is in
            :data:`SHARED_ATTRIBUTES`, so nothing is silently left out. ``None``: no
            check.
    """

    name: str
    section: str
    cls: type
    to_config: Callable[[Any, SaveContext, str], dict[str, Any]]
    from_config: Callable[[str, dict[str, Any], LoadContext, str], Any]
    keys: tuple[str, ...]
    required: tuple[str, ...] = ()
    attributes: frozenset[str] | None = None


#: Attributes every network object has that no writer needs to save (membership).
SHARED_ATTRIBUTES = {"name", "network", "parent"}


_KINDS: dict[str, ObjectKind] = {}


def register_kind(name: str, *, section: str, cls: type,
                  to_config: Callable[[Any, SaveContext, str], dict[str, Any]],
                  from_config: Callable[[str, dict[str, Any], LoadContext, str], Any],
                  keys: Sequence[str], required: Sequence[str] = (),
                  attributes: Sequence[str] | None = None) -> None:
    """Teach configs a new object kind (see :class:`ObjectKind`); re-registering a name
    replaces it."""
    if section not in OBJECT_SECTIONS:
        raise ConfigError(f"register_kind({name!r}): section must be one of "
                          f"{', '.join(OBJECT_SECTIONS)}, got {section!r}")
    if not set(required) <= set(keys):
        raise ConfigError(f"register_kind({name!r}): required keys must be among keys")
    _KINDS.pop(name, None)
    _KINDS[name] = ObjectKind(name, section, cls, to_config, from_config, tuple(keys),
                              tuple(required),
                              None if attributes is None else frozenset(attributes))


def kinds() -> dict[str, ObjectKind]:
    """The registered object kinds, by name."""
    return dict(_KINDS)


def _kind_of(obj: object) -> ObjectKind | None:
    for k in reversed(list(_KINDS.values())):
        if type(obj) is k.cls:
            return k
    for k in reversed(list(_KINDS.values())):
        if isinstance(obj, k.cls):
            return k
    return None


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def check_keys(spec: object, known: Sequence[str], path: str,
               required: Sequence[str] = ()) -> dict[str, Any]:
    """``spec`` as a dict, after checking it is a mapping with only ``known`` keys and
    all ``required`` ones."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a mapping (key: value), got "
                          f"{type(spec).__name__} {spec!r}")
    for k in spec:
        if k not in known:
            raise ConfigError(f"{_join(path, k)}: unknown key {k!r}; known keys: "
                              f"{', '.join(known)}{did_you_mean(str(k), known)}")
    for k in required:
        if k not in spec:
            raise ConfigError(f"{_join(path, k)}: missing; {path or 'the config'} needs "
                              f"{', '.join(required)}")
    return dict(spec)


def _wrap(path: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn``; a SnnccError it raises is re-raised naming the config path."""
    try:
        return fn()
    except ConfigError:
        raise
    except SnnccError as e:
        raise ConfigError(f"{path}: {e}") from None
