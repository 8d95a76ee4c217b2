"""schedule: the order in which the populations step under ``schedule="layered"``.

Brian2's schedule (the default, ``"brian2"``) runs every state update, then every
threshold, then every synaptic pathway, then every reset: a spike emitted at step n is
delivered at step n, and its target's threshold sees it at step n + 1, so a chain of K
layers answers after K steps. The ``"layered"`` schedule steps one population at a time
-- its state update, threshold, outgoing ``on_pre`` pathways, the ``on_post`` pathways of
the projections into it, its reset -- in an order where every population comes after
the ones that drive it without delay, so a spike crosses the whole chain in one step.

The order (``Program.order``) is a topological order of the populations along the
``on_pre`` direction of the projections:

1. Edges of projections with a zero delay (any synapse with delay 0) come first. Their
   cycles are broken deterministically: a depth-first search from the sources (no
   incoming zero-delay edge), then from every other population, each in declaration
   order, drops the edges back onto the search path (the "back edges").
2. Edges of delayed projections are then kept where they close no cycle, so that a
   delay of d steps is exactly d steps in a feed-forward network whatever the
   declaration order.
3. Kahn's algorithm orders the resulting graph, ties broken by declaration order.

A projection whose target comes at or before its source in the order (a
self-connection, a dropped back edge) delivers into a population that has already
stepped (a self-projection delivers after its population's reset, so a neuron that fired
keeps the input, as with every other recurrent projection): its spikes take effect one
step later than its delay says, exactly as an input added at the start of that later
step would (the form the trained layers of :mod:`snncc.frontend.training` use). Such
projections
are listed in ``Program.late`` (``describe()`` and the generated code show them). Under
``"brian2"`` the pass leaves the program unchanged.
"""

from __future__ import annotations

import heapq

from snncc.ir import program as ir


def _zero_delay(pr: ir.Projection) -> bool:
    return pr.delay.size > 0 and int(pr.delay.min()) == 0


def _edges(program: ir.Program, zero: bool) -> list[tuple[str, str]]:
    """(pre, post) of the ``on_pre`` pathways between two populations, zero-delay ones
    (``zero``) or delayed ones, in declaration order, each pair once."""
    out: dict[tuple[str, str], None] = {}
    for pr in program.projections.values():
        if pr.on_pre and pr.pre != pr.post and _zero_delay(pr) == zero:
            out[(pr.pre, pr.post)] = None
    return list(out)


def _break_cycles(names: list[str], edges: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The edges of a DFS forest (sources first, then the rest, in declaration order)
    that are not back edges."""
    succ: dict[str, list[str]] = {n: [] for n in names}
    has_pred: set[str] = set()
    for a, b in edges:
        succ[a].append(b)
        has_pred.add(b)
    state: dict[str, int] = {}  # 1: on the search path, 2: done
    kept: set[tuple[str, str]] = set()
    roots = [n for n in names if n not in has_pred] + [n for n in names if n in has_pred]
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                continue  # back edge: dropped
            else:
                kept.add((node, nxt))
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(succ[nxt])))
    return kept


def _reaches(succ: dict[str, set[str]], a: str, b: str) -> bool:
    seen, todo = {a}, [a]
    while todo:
        n = todo.pop()
        if n == b:
            return True
        for m in succ[n] - seen:
            seen.add(m)
            todo.append(m)
    return False


def layered_order(program: ir.Program) -> tuple[str, ...]:
    """The populations in the order the ``"layered"`` schedule steps them."""
    names = list(program.populations)
    rank = {n: k for k, n in enumerate(names)}
    succ: dict[str, set[str]] = {n: set() for n in names}
    for a, b in _break_cycles(names, _edges(program, zero=True)):
        succ[a].add(b)
    for a, b in _edges(program, zero=False):
        if b not in succ[a] and not _reaches(succ, b, a):
            succ[a].add(b)
    indegree = {n: 0 for n in names}
    for a in names:
        for b in succ[a]:
            indegree[b] += 1
    ready = [rank[n] for n in names if indegree[n] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        n = names[heapq.heappop(ready)]
        order.append(n)
        for m in succ[n]:
            indegree[m] -= 1
            if indegree[m] == 0:
                heapq.heappush(ready, rank[m])
    assert len(order) == len(names), "the kept edges form a DAG"
    return tuple(order)


def late_projections(program: ir.Program, order: tuple[str, ...]) -> tuple[str, ...]:
    """Projections whose ``on_pre`` delivers into a population stepped at or before its
    source: one step later than their delay says."""
    pos = {n: k for k, n in enumerate(order)}
    return tuple(pr.name for pr in program.projections.values()
                 if pr.on_pre and pos[pr.post] <= pos[pr.pre])


def schedule(program: ir.Program) -> ir.Program:
    """Fix the population order of the ``"layered"`` schedule (``Program.order`` and
    ``Program.late``); a ``"brian2"`` program is returned unchanged."""
    if program.schedule == "brian2":
        return program
    order = layered_order(program)
    return program.with_(order=order, late=late_projections(program, order),
                         passes=[*program.passes, "schedule"])
