"""Assemblies: named, nestable containers of groups, connections, nodes and monitors
(SPAIC's ``Assembly``), and :class:`Projection`, connections between assemblies.

Build them by class (assign members as attributes in ``__init__``) or with ``with``
anywhere (a function, a test, a notebook)::

    class Layer(sc.Assembly):
        def __init__(self, n):
            super().__init__()
            self.exc = sc.NeuronGroup(n, "lif", types=("exc",))
            self.inh = sc.NeuronGroup(n // 4, "lif", types=("inh",))
            self.ei = sc.Connection(self.exc, self.inh, on_pre="v += 1*mV")

    net = sc.Network()
    with net:
        l1 = Layer(100)
        l2 = net.copy_assembly("l2", l1)
        sc.Projection(l1, l2, policies=[sc.IncludedTypePolicy(pre=["exc"])],
                      on_pre="v += 0.5*mV", p=0.1)

Members are leaves of the network's tree; the build flattens the visible ones and names
each by its path (``l1.exc`` becomes ``l1_exc`` in the generated code and in
``sim.get``). A hidden member (:meth:`~NetworkObject.assembly_hide`) and everything that
touches it are really left out of the build.
"""

from __future__ import annotations

import copy
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from snncc.errors import NetworkError, ParameterError, check_names
from snncc.frontend.objects import NetworkObject, context_stack, detached


class Assembly(NetworkObject):
    """A named container of groups, connections, nodes, monitors and assemblies.

    Members join by being created inside ``with asm:``, by attribute assignment
    (``asm.exc = NeuronGroup(...)``), or with :meth:`add`, :meth:`add_assembly` and
    :meth:`add_connection`. Each object belongs to one container.
    """

    _kind = "assembly"

    def __init__(self, name: str | None = None) -> None:
        object.__setattr__(self, "_members", [])
        super().__init__(name)

    # ------------------------------------------------------------- membership
    def __enter__(self) -> Assembly:
        context_stack().append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        st = context_stack()
        if st and st[-1] is self:
            st.pop()
        # name unnamed members after the variables they were assigned to in the block
        frame = sys._getframe(1)
        try:
            for var, value in list(frame.f_locals.items()):
                if (isinstance(value, NetworkObject) and value.parent is self
                        and value.name is None and var.isidentifier()
                        and not var.startswith("_")):
                    value.name = var
        finally:
            del frame

    def __setattr__(self, key: str, value: Any) -> None:
        if (isinstance(value, NetworkObject) and not key.startswith("_")
                and key != "parent" and self not in list(_chain(value))[1:]):
            own = getattr(type(self), key, None)
            if isinstance(own, property) or callable(own):
                raise NetworkError(f"{type(self).__name__} '{self.name}': cannot name a member "
                                   f"'{key}', which is part of the {type(self).__name__} API "
                                   f"(self.{key}); choose another name, e.g. '{key}_layer'")
            # (a member of a nested assembly assigned here is an alias, not a move)
            if value.name is None:
                value.name = key
            self._adopt(value)
        object.__setattr__(self, key, value)

    def __getattr__(self, key: str) -> Any:
        # members created in ``with`` blocks are reachable by name: ``asm.exc``
        if key.startswith("_"):
            raise AttributeError(key)
        for m in self.__dict__.get("_members", ()):
            if m.name == key:
                return m
        raise AttributeError(f"{type(self).__name__} {self.name!r} has no attribute or "
                             f"member {key!r}")

    def _ancestors(self) -> Iterator[Assembly]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def _adopt(self, obj: NetworkObject) -> None:
        if obj.parent is self:
            return
        if obj is self or (isinstance(obj, Assembly) and obj in list(self._ancestors())):
            raise NetworkError(f"cannot put {obj!r} inside itself")
        if obj.parent is not None:
            if obj.parent in list(self._ancestors()):
                # created inside an enclosing ``with`` block, then assigned here: move it
                obj.parent._members.remove(obj)
            else:
                from snncc.frontend.network import Network

                kind = "network" if isinstance(obj.parent, Network) else "assembly"
                where = obj.parent.name if kind == "network" else obj.parent.path
                raise NetworkError(f"{obj!r} already belongs to {kind} '{where}'; remove it "
                                   "there first (del_assembly / del_connection) or use "
                                   "copy_assembly")
        obj.parent = self
        self._members.append(obj)

    def add(self, *objects: NetworkObject) -> None:
        """Add objects (groups, connections, nodes, monitors, assemblies)."""
        for obj in objects:
            if not isinstance(obj, NetworkObject):
                raise NetworkError(f"{self.name}: cannot add {obj!r}; expected a group, "
                                   "connection, node, monitor or assembly")
            self._adopt(obj)

    @property
    def members(self) -> list[NetworkObject]:
        """The direct members, in the order they joined."""
        return list(self._members)

    def walk(self) -> Iterator[NetworkObject]:
        """Every member, depth first (assemblies before their members)."""
        for m in self._members:
            yield m
            if isinstance(m, Assembly):
                yield from m.walk()

    @property
    def objects(self) -> list[NetworkObject]:
        """Every member that is not an assembly, depth first (hidden ones included)."""
        return [m for m in self.walk() if not isinstance(m, Assembly)]

    def get_groups(self, recursive: bool = True) -> list[Any]:
        """The neuron groups (and encoders) of this assembly."""
        from snncc.frontend.network import Group

        objs = self.walk() if recursive else iter(self._members)
        return [m for m in objs if isinstance(m, Group)]

    def get_connections(self, recursive: bool = True) -> list[Any]:
        """The connections and projections of this assembly."""
        from snncc.frontend.network import Connection

        objs = self.walk() if recursive else iter(self._members)
        return [m for m in objs if isinstance(m, (Connection, Projection))]

    def get_assemblies(self, recursive: bool = True) -> list[Assembly]:
        """The nested assemblies."""
        objs = self.walk() if recursive else iter(self._members)
        return [m for m in objs if isinstance(m, Assembly)]

    def _assign_names(self) -> None:
        used: set[str] = set()
        spelled: dict[str, str] = {}  # NFKC-normalized name -> the name given
        counters: dict[str, int] = {}
        for obj in self._members:
            if obj.name is None:
                base = obj._kind
                k = counters.get(base, 0)
                while f"{base}_{k}" in used or any(m.name == f"{base}_{k}"
                                                   for m in self._members):
                    k += 1
                counters[base] = k + 1
                obj.name = f"{base}_{k}"
            if not isinstance(obj.name, str) or not obj.name.isidentifier():
                raise NetworkError(f"name {obj.name!r} of {type(obj).__name__} must be a "
                                   "Python identifier (letters, digits, _)")
            # as Python reads identifiers in generated code: NFKC-normalized ("ﬁ" is "fi")
            norm = unicodedata.normalize("NFKC", obj.name)
            if norm in spelled:
                where = (f"members of assembly '{self.path}'" if self.parent
                         else f"objects in network '{self.name}'")
                same = ("" if spelled[norm] == obj.name else
                        f" and {spelled[norm]!r}, which Python reads as one name")
                raise NetworkError(f"two {where} are named {obj.name!r}{same}; give them "
                                   "different names")
            spelled[norm] = obj.name
            used.add(obj.name)
            if isinstance(obj, Assembly):
                obj._assign_names()

    def _root(self) -> Assembly:
        node: Assembly = self
        while node.parent is not None:
            node = node.parent
        return node

    def _find(self, what: str, obj: NetworkObject | None, name: str | None,
              kinds: tuple[type, ...]) -> NetworkObject:
        if (obj is None) == (name is None):
            raise ParameterError(f"{what}: give the object or its name (one of them)")
        if obj is not None:
            if not isinstance(obj, kinds):
                raise NetworkError(f"{what}: {obj!r} is not a "
                                   f"{' or '.join(k.__name__ for k in kinds)}")
            if obj is not self and self not in list(_chain(obj)):
                raise NetworkError(f"{what}: {obj!r} is not a member of '{self.name}'")
            return obj
        self._assign_names()
        for m in self.walk():
            if isinstance(m, kinds) and (m.name == name or m.path == name
                                         or m.path.endswith("." + str(name))):
                return m
        known = [m.name for m in self.walk() if isinstance(m, kinds)]
        raise NetworkError(f"{what}: '{self.name}' has no member named {name!r}; it has "
                           f"{', '.join(map(str, known)) or 'none'}")

    # ------------------------------------------------------- SPAIC operations
    def add_assembly(self, name: str, assembly: NetworkObject) -> NetworkObject:
        """Add ``assembly`` (an assembly, group or node) under ``name``; returns it."""
        if not isinstance(assembly, NetworkObject):
            raise NetworkError(f"add_assembly: expected an Assembly, group or node, got "
                               f"{type(assembly).__name__}")
        _check_name(name, "add_assembly")
        if any(m.name == name and m is not assembly for m in self._members):
            raise NetworkError(f"add_assembly: '{self.name}' already has a member named "
                               f"{name!r}")
        assembly.name = name
        self._adopt(assembly)
        return assembly

    def add_connection(self, name: str, connection: NetworkObject) -> NetworkObject:
        """Add a :class:`Connection` or :class:`Projection` under ``name``; returns it."""
        from snncc.frontend.network import Connection

        if not isinstance(connection, (Connection, Projection)):
            raise NetworkError(f"add_connection: expected a Connection or Projection, got "
                               f"{type(connection).__name__}")
        return self.add_assembly(name, connection)

    def del_assembly(self, assembly: NetworkObject | None = None, name: str | None = None
                     ) -> NetworkObject:
        """Remove a member assembly, group or node (by object or by name, nested ones
        included). Connections, projections, monitors and decoders anywhere in the
        network that touch it are removed with it. Returns the removed object."""
        target = self._find("del_assembly", assembly, name, (NetworkObject,))
        inside = {id(target)} | ({id(m) for m in target.walk()}
                                 if isinstance(target, Assembly) else set())
        _unlink(target)
        for m in list(self._root().walk()):
            if _touches(m, inside):
                _unlink(m)
        return target

    def del_connection(self, connection: NetworkObject | None = None,
                       name: str | None = None) -> NetworkObject:
        """Remove a connection or projection (by object or by name); returns it."""
        from snncc.frontend.network import Connection

        target = self._find("del_connection", connection, name, (Connection, Projection))
        _unlink(target)
        return target

    def copy_assembly(self, name: str, assembly: NetworkObject) -> NetworkObject:
        """Add a deep copy of ``assembly`` under ``name``: new groups with the same
        models, parameters and initial values, and copies of the connections, monitors
        and nodes inside it, wired among the copies. Returns the copy."""
        _check_name(name, "copy_assembly")
        new = clone([assembly])[0]
        return self.add_assembly(name, new)

    def replace_assembly(self, old: NetworkObject, new: NetworkObject) -> NetworkObject:
        """Put ``new`` where ``old`` is; connections, projections, monitors and decoders
        that touched ``old`` (or a member of it) now touch ``new`` (or its member at the
        same path). Returns ``old``, now detached."""
        target = self._find("replace_assembly", old, None, (NetworkObject,))
        if not isinstance(new, NetworkObject) or isinstance(new, type(None)):
            raise NetworkError("replace_assembly: new must be an Assembly, group or node")
        if new.parent is not None:
            raise NetworkError(f"replace_assembly: {new!r} already belongs to "
                               f"'{new.parent.path}'; pass a new (or copied) one")
        mapping: dict[int, NetworkObject] = {id(target): new}
        if isinstance(target, Assembly):
            if not isinstance(new, Assembly):
                raise NetworkError(f"replace_assembly: {target!r} is an assembly; replace "
                                   f"it with an assembly, not {new!r}")
            target._assign_names()
            new._assign_names()
            by_path = {_rel(m, new): m for m in new.walk()}
            for m in target.walk():
                if _rel(m, target) in by_path:
                    mapping[id(m)] = by_path[_rel(m, target)]
        parent = target.parent
        assert parent is not None
        inside = {id(target)} | ({id(m) for m in target.walk()}
                                 if isinstance(target, Assembly) else set())
        users = [m for m in self._root().walk() if m is not target and id(m) not in inside
                 and _touches(m, inside)]
        for m in users:
            for ref in _references(m):
                if id(ref) in inside and id(ref) not in mapping:
                    raise NetworkError(
                        f"replace_assembly: {m!r} ({m.path}) uses '{ref.path}', which "
                        f"has no counterpart in {new!r}; give the new assembly a member "
                        f"at path '{_rel(ref, target)}' or delete the connection first")
        if new.name is None:
            new.name = target.name
        idx = parent._members.index(target)
        parent._members[idx] = new
        new.parent = parent
        target.parent = None
        for k, v in list(parent.__dict__.items()):
            if v is target:
                object.__setattr__(parent, k, new)
        for m in users:
            _remap_refs(m, mapping)
        return target

    def merge_assembly(self, assembly: Assembly) -> Assembly:
        """Move every member of ``assembly`` into this one (``assembly`` is left empty
        and removed from its container). Returns this assembly."""
        if not isinstance(assembly, Assembly) or assembly is self:
            raise NetworkError(f"merge_assembly: expected another Assembly, got "
                               f"{assembly!r}")
        if self in list(assembly.walk()):
            raise NetworkError(f"merge_assembly: '{self.name}' is inside "
                               f"'{assembly.name}'; merge the other way round")
        self._assign_names()
        assembly._assign_names()
        mine = {m.name for m in self._members}
        clash = [m.name for m in assembly._members if m.name in mine]
        if clash:
            raise NetworkError(f"merge_assembly: both assemblies have members named "
                               f"{', '.join(map(repr, clash))}; rename them first "
                               "(obj.name = ...)")
        for m in list(assembly._members):
            assembly._members.remove(m)
            m.parent = None
            self._adopt(m)
        if assembly.parent is not None:
            _unlink(assembly)
        return self

    def select_assembly(self, assemblies: Sequence[NetworkObject],
                        name: str | None = None) -> Assembly:
        """A new, detached assembly holding copies of the chosen members (assemblies,
        groups or nodes of this one) and copies of the connections and projections of
        this assembly that run among them; add it to a network to build it."""
        if isinstance(assemblies, NetworkObject):
            assemblies = [assemblies]
        chosen = [self._find("select_assembly", a, None, (NetworkObject,))
                  for a in assemblies]
        self._assign_names()
        inside: set[int] = set()
        for a in chosen:
            inside |= {id(a)} | ({id(m) for m in a.walk()} if isinstance(a, Assembly)
                                 else set())
        from snncc.frontend.network import Connection

        conns = [m for m in self.walk() if isinstance(m, (Connection, Projection))
                 and id(m) not in inside and _references(m)
                 and all(id(r) in inside for r in _references(m))]
        copies = clone([*chosen, *conns])
        with detached():
            out = Assembly(name)
        for c in copies:
            out._adopt(c)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {len(self._members)} members)"


# ---------------------------------------------------------------- projections
@dataclass
class ConnectionPolicy:
    """Base of the rules choosing which group pairs a :class:`Projection` connects."""

    def keep(self, pre: Any, post: Any, pair: tuple[int, int]) -> bool:  # noqa: D102
        raise NotImplementedError  # pragma: no cover - every policy overrides it


def _types(group: Any) -> set[str]:
    return {*getattr(group, "types", ()), group.model.name} if hasattr(group, "model") \
        else set(getattr(group, "types", ()))


@dataclass
class IncludedTypePolicy(ConnectionPolicy):
    """Connect only pre groups with one of the types ``pre`` and post groups with one
    of the types ``post`` (a group's types are its ``types=`` labels and its model's
    name); ``None`` accepts any."""

    pre: Sequence[str] | None = None
    post: Sequence[str] | None = None

    def keep(self, pre: Any, post: Any, pair: tuple[int, int]) -> bool:  # noqa: D102
        return ((self.pre is None or bool(_types(pre) & set(self.pre)))
                and (self.post is None or bool(_types(post) & set(self.post))))


@dataclass
class ExcludedTypePolicy(ConnectionPolicy):
    """Leave out pre groups with one of the types ``pre`` and post groups with one of
    the types ``post``."""

    pre: Sequence[str] = ()
    post: Sequence[str] = ()

    def keep(self, pre: Any, post: Any, pair: tuple[int, int]) -> bool:  # noqa: D102
        return not (_types(pre) & set(self.pre)) and not (_types(post) & set(self.post))


@dataclass
class IndexPolicy(ConnectionPolicy):
    """Connect only the listed (pre, post) pairs of group positions: position ``k`` is
    the k-th group of the assembly, depth first (see :meth:`Projection.group_pairs`)."""

    pairs: Sequence[tuple[int, int]] = field(default_factory=list)

    def keep(self, pre: Any, post: Any, pair: tuple[int, int]) -> bool:  # noqa: D102
        return tuple(pair) in {tuple(p) for p in self.pairs}


class Projection(NetworkObject):
    """Connections between every (pre group, post group) pair of two assemblies (or
    groups) that the ``policies`` keep; every other argument is passed to each
    :class:`Connection` (``model``, ``on_pre``, ``p``, ``link_type``, ``w_init``, ...).

    At build, pair ``(a, b)`` becomes a connection named ``<projection>_<a>_<b>``.
    """

    _kind = "projection"

    def __init__(self, pre: NetworkObject, post: NetworkObject,
                 policies: Iterable[ConnectionPolicy] = (), name: str | None = None,
                 **connection: Any) -> None:
        from snncc.frontend.network import Connection

        who = f"Projection {name or ''}".strip()
        for side, v in (("pre", pre), ("post", post)):
            if not isinstance(v, NetworkObject) or isinstance(v, (Connection, Projection)):
                raise NetworkError(f"{who}: {side} must be an assembly or a group, got "
                                   f"{v!r}")
        self.pre = pre
        self.post = post
        self.policies = list(policies)
        for p in self.policies:
            if not isinstance(p, ConnectionPolicy):
                raise ParameterError(f"{who}: policies must be IncludedTypePolicy, "
                                     f"ExcludedTypePolicy or IndexPolicy objects, got {p!r}")
        bad = [k for k in connection if k in ("pre", "post", "name")]
        if bad:
            raise ParameterError(f"{who}: {bad[0]}= is set by the projection")
        import inspect

        known = [k for k in inspect.signature(Connection.__init__).parameters
                 if k not in ("self", "pre", "post", "name")]
        check_names(who, "connection option", connection, known, kind=ParameterError,
                    fix="the projection passes its other keywords to each Connection")
        self.connection = dict(connection)
        super().__init__(name)

    def group_pairs(self, visible_only: bool = True) -> list[tuple[Any, Any]]:
        """The (pre group, post group) pairs this projection connects."""
        pres, posts = _leaf_groups(self.pre), _leaf_groups(self.post)
        out = []
        for a, ga in enumerate(pres):
            for b, gb in enumerate(posts):
                if visible_only and (ga.hidden or gb.hidden):
                    continue
                if all(p.keep(ga, gb, (a, b)) for p in self.policies):
                    out.append((ga, gb))
        return out

    def connections(self, names: Mapping[int, str], prefix: str | None = None) -> list[Any]:
        """Detached :class:`Connection` objects, one per kept group pair, named
        ``<prefix>_<pre>_<post>``; ``names`` maps ``id(group)`` to its build name."""
        from snncc.frontend.network import Connection

        out = []
        prefix = prefix or str(self.name)
        with detached():
            for ga, gb in self.group_pairs():
                c = Connection(ga, gb, name=f"{prefix}_{names[id(ga)]}_{names[id(gb)]}",
                               **self.connection)
                out.append(c)
        return out


def _leaf_groups(obj: NetworkObject) -> list[Any]:
    from snncc.frontend.network import Group

    if isinstance(obj, Group):
        return [obj]
    if isinstance(obj, Assembly):
        return obj.get_groups()
    raise NetworkError(f"{obj!r} holds no neuron groups")


# ---------------------------------------------------------------- helpers
def _check_name(name: object, what: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise NetworkError(f"{what}: name {name!r} must be a Python identifier")


def _chain(obj: NetworkObject) -> Iterator[NetworkObject]:
    node = obj.parent
    while node is not None:
        yield node
        node = node.parent


def _rel(obj: NetworkObject, root: NetworkObject) -> str:
    parts = []
    node: NetworkObject | None = obj
    while node is not None and node is not root:
        parts.append(str(node.name))
        node = node.parent
    return ".".join(reversed(parts))


def _unlink(obj: NetworkObject) -> None:
    parent = obj.parent
    if parent is None:
        return
    parent._members.remove(obj)
    for k, v in list(parent.__dict__.items()):
        if v is obj:
            del parent.__dict__[k]
    obj.parent = None


def _references(obj: NetworkObject) -> list[NetworkObject]:
    """The network objects ``obj`` points at (a connection's groups, a monitor's group,
    a decoder's target, ...)."""
    from snncc.frontend.network import Subgroup

    out = []
    for k, v in vars(obj).items():
        if k in ("parent", "_members", "network"):
            continue
        if isinstance(v, Subgroup):
            v = v.parent
        if isinstance(v, NetworkObject):
            out.append(v)
    return out


def _touches(obj: NetworkObject, ids: set[int]) -> bool:
    return any(id(r) in ids for r in _references(obj))


def _remap(value: Any, mapping: Mapping[int, NetworkObject]) -> Any:
    from snncc.frontend.network import Subgroup

    if isinstance(value, Subgroup):
        new = mapping.get(id(value.parent))
        if new is None:
            return value
        return Subgroup(new, value.start, value.stop)  # type: ignore[arg-type]
    if isinstance(value, NetworkObject):
        return mapping.get(id(value), value)
    return value


def _remap_refs(obj: NetworkObject, mapping: Mapping[int, NetworkObject]) -> None:
    for k, v in list(vars(obj).items()):
        if k in ("parent", "_members"):
            continue
        if isinstance(v, (list, tuple)):
            nv: Any = type(v)(_remap(x, mapping) for x in v)
            if all(a is b for a, b in zip(nv, v)):
                nv = v
        else:
            nv = _remap(v, mapping)
        if nv is not v:
            object.__setattr__(obj, k, nv)


def clone(objects: Sequence[NetworkObject]) -> list[NetworkObject]:
    """Deep copies of ``objects`` (assemblies with all their members), detached; the
    references among the copied objects point at the copies."""
    mapping: dict[int, NetworkObject] = {}
    made: list[NetworkObject] = []

    def dup(obj: NetworkObject) -> NetworkObject:
        new = copy.copy(obj)
        for k, v in list(vars(new).items()):
            if isinstance(v, (dict, list, set)) and k != "_members":
                object.__setattr__(new, k, copy.copy(v))
        object.__setattr__(new, "parent", None)
        mapping[id(obj)] = new
        made.append(new)
        if isinstance(obj, Assembly):
            object.__setattr__(new, "_members", [])
            for m in obj._members:
                cm = dup(m)
                cm.parent = new
                new._members.append(cm)
        return new

    tops = [dup(o) for o in objects]
    for new in made:
        _remap_refs(new, mapping)
    return tops
