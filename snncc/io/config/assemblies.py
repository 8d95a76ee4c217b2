"""Codec of SPAIC's projections (kind ``projection``) and their policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snncc.errors import ConfigError
from snncc.frontend.assembly import (
    ExcludedTypePolicy,
    IncludedTypePolicy,
    IndexPolicy,
    Projection,
)
from snncc.frontend.network import Connection
from snncc.frontend.objects import detached
from snncc.io.config.load import LoadContext
from snncc.io.config.registry import _wrap, check_keys, register_kind
from snncc.io.config.save import SaveContext
from snncc.io.config.synapses import (
    _CONNECTION_KEYS,
    _connection_args_from,
    _connection_args_to,
)

_POLICY_KEYS = {"included_type": ("kind", "pre", "post"),
                "excluded_type": ("kind", "pre", "post"), "index": ("kind", "pairs")}


def _labels_to(v: object, ctx: SaveContext, path: str) -> list[str]:
    if isinstance(v, str) or not isinstance(v, (list, tuple, set, frozenset)) or not all(
            isinstance(x, str) for x in v):
        raise ctx.fail(path, f"the types {v!r} (give a list of labels such as ['exc'])")
    return sorted(v) if isinstance(v, (set, frozenset)) else list(v)


def _policy_to(pol: object, ctx: SaveContext, path: str) -> dict[str, Any]:
    if type(pol) is IncludedTypePolicy:  # None: any type (so left out); []: none
        out: dict[str, Any] = {"kind": "included_type"}
        for side in ("pre", "post"):
            if getattr(pol, side) is not None:
                out[side] = _labels_to(getattr(pol, side), ctx, f"{path}.{side}")
        return out
    if type(pol) is ExcludedTypePolicy:  # empty: nothing excluded (so left out)
        out = {"kind": "excluded_type"}
        for side in ("pre", "post"):
            labels = _labels_to(getattr(pol, side), ctx, f"{path}.{side}")
            if labels:
                out[side] = labels
        return out
    if type(pol) is IndexPolicy:
        try:
            pairs = [[int(a), int(b)] for a, b in pol.pairs]
        except (TypeError, ValueError):
            raise ctx.fail(f"{path}.pairs", f"the pairs {pol.pairs!r} (give (pre, post) "
                           "group positions)") from None
        return {"kind": "index", "pairs": pairs}
    raise ctx.fail(path, f"the policy {pol!r} (configs hold IncludedTypePolicy, "
                   "ExcludedTypePolicy and IndexPolicy)")


def _policy_from(v: object, ctx: LoadContext, path: str) -> Any:
    kind = v.get("kind") if isinstance(v, Mapping) else None
    if not isinstance(v, Mapping) or kind not in _POLICY_KEYS:
        what = (f"unknown policy kind {kind!r}" if isinstance(v, Mapping)
                else f"expected a mapping such as {{kind: included_type, pre: [exc]}}, got "
                     f"{v!r}")
        raise ConfigError(f"{path}{'.kind' if isinstance(v, Mapping) else ''}: {what}; one "
                          f"of {', '.join(_POLICY_KEYS)}")
    s = check_keys(v, _POLICY_KEYS[kind], path, ("pairs",) if kind == "index" else ())

    def labels(side: str) -> list[str] | None:
        x = s.get(side)
        if x is None:
            return None
        x = [x] if isinstance(x, str) else x
        if not isinstance(x, list):
            raise ConfigError(f"{path}.{side}: expected a list of types such as [exc], got "
                              f"{s[side]!r}")
        return [ctx.string(e, f"{path}.{side}[{n}]") for n, e in enumerate(x)]

    if kind == "included_type":
        return IncludedTypePolicy(pre=labels("pre"), post=labels("post"))
    if kind == "excluded_type":
        return ExcludedTypePolicy(pre=labels("pre") or [], post=labels("post") or [])
    pairs = s["pairs"]
    if not isinstance(pairs, list):
        raise ConfigError(f"{path}.pairs: expected a list of [pre, post] group positions, "
                          f"got {pairs!r}")
    out = []
    for n, pr in enumerate(pairs):
        if not isinstance(pr, list) or len(pr) != 2:
            raise ConfigError(f"{path}.pairs[{n}]: expected a pair [pre, post] of group "
                              f"positions, got {pr!r}")
        out.append(tuple(ctx.integer(x, f"{path}.pairs[{n}][{m}]", 0)
                         for m, x in enumerate(pr)))
    return IndexPolicy(pairs=out)


def _projection_to(pr: Any, ctx: SaveContext, path: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"pre": ctx.member(pr.pre, f"{path}.pre"),
                            "post": ctx.member(pr.post, f"{path}.post")}
    if pr.policies:
        spec["policies"] = [_policy_to(p, ctx, f"{path}.policies[{n}]")
                            for n, p in enumerate(pr.policies)]
    spec.update(_connection_args_to(pr.connection, ctx, path))
    return spec


def _projection_from(name: str, s: dict[str, Any], ctx: LoadContext, path: str) -> Any:
    pre = ctx.node(s["pre"], f"{path}.pre")
    post = ctx.node(s["post"], f"{path}.post")
    pols = s.get("policies") or []
    if not isinstance(pols, list):
        raise ConfigError(f"{path}.policies: expected a list of policies such as "
                          f"[{{kind: included_type, pre: [exc]}}], got {pols!r}")
    policies = [_policy_from(v, ctx, f"{path}.policies[{n}]") for n, v in enumerate(pols)]
    kw = _connection_args_from(s, ctx, path, ("pre", "post", "policies"))
    proj = _wrap(path, lambda: Projection(pre, post, policies, name=name, **kw))

    def check() -> None:  # the arguments are used at build: check them now
        base = path.split(".", 1)[1].replace(".", "_")
        with detached():
            for ga, gb in proj.group_pairs(visible_only=False):
                Connection(ga, gb, name=f"{base}_{ga.path.replace('.', '_')}_"
                           f"{gb.path.replace('.', '_')}", **kw)

    _wrap(path, check)
    return proj


def register() -> None:
    """Register the ``projection`` kind."""
    register_kind("projection", section="connections", cls=Projection,
                  to_config=_projection_to, from_config=_projection_from,
                  keys=("pre", "post", "policies", *_CONNECTION_KEYS),
                  required=("pre", "post"),
                  attributes=("pre", "post", "policies", "connection"))
