"""Launch sizes of generated Triton kernels (one place to tune them).

In Triton's CPU interpreter every program costs about a millisecond whatever its size,
so a kernel runs as one program over all lanes there. On a GPU a population kernel takes
256 neurons a program and a spike-matmul 64 target neurons by 32 source neurons a tile;
an event-driven synaptic kernel takes up to 32 source neurons by up to 64 synapses of
each, and a spike generator compares up to 64 of the step's spikes with up to 256
neurons, in a tile of at most ``128 * per_thread`` elements (4 warps of 32 threads,
``per_thread`` elements each; for synaptic code half as many in float64, whose values
take two registers). The code generator gives fewer elements per thread to synaptic
code that loads, stores or draws more per synapse. ``tests/test_triton_aot.py``
compiles every kernel for sm_90 with these sizes and fails on a float32 kernel that
spills registers.
"""

from __future__ import annotations

from typing import Any

from snncc.kernels import import_triton, interpreting

THREADS = 128  # 4 warps, Triton's default


def blocks(lanes: int, fan: int, kind: str, per_thread: int = 16,
           dtype: Any = None) -> tuple[int, int]:
    """(BLOCK, BLOCK_F) for a kernel over ``lanes`` neurons (``kind`` "neurons"), over
    ``lanes`` source neurons whose rows hold ``fan`` synapses ("events"), over
    ``lanes`` target neurons with ``fan`` sources ("dense"), or over ``lanes`` neurons
    compared with up to ``fan`` spikes at a time ("generator"); ``per_thread``: the
    elements of an events or generator tile per GPU thread in float32."""
    triton = import_triton()
    lanes_p2 = triton.next_power_of_2(max(lanes, 1))
    fan_p2 = triton.next_power_of_2(max(fan, 1))
    if interpreting():
        if kind == "events":
            return min(lanes_p2, max(16, 65536 // fan_p2)), fan_p2
        if kind == "dense":
            return lanes_p2, min(fan_p2, max(16, 65536 // lanes_p2))
        return min(lanes_p2, 1 << 16), fan_p2 if kind == "generator" else 1
    if kind in ("events", "generator"):
        if kind == "events" and getattr(dtype, "itemsize", 4) == 8:
            per_thread = max(1, per_thread // 2)
        block_f = min(fan_p2, 64)
        most = 32 if kind == "events" else 256
        return min(lanes_p2, most, max(1, THREADS * per_thread // block_f)), block_f
    if kind == "dense":
        return min(lanes_p2, 64), min(fan_p2, 32)
    return min(lanes_p2, 256), 1
