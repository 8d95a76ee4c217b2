"""Launch sizes of generated Triton kernels (one place to tune them).

In Triton's CPU interpreter every program costs about a millisecond whatever its size,
so a kernel runs as one program over all lanes there; on a GPU a population kernel
takes 256 neurons a program, an event-driven synaptic kernel 32 source neurons by up to
64 synapses of each, and a spike-matmul 64 target neurons by 64 source neurons a tile.
"""

from __future__ import annotations

from snncc.kernels import import_triton, interpreting


def blocks(lanes: int, fan: int, kind: str) -> tuple[int, int]:
    """(BLOCK, BLOCK_F) for a kernel over ``lanes`` neurons (``kind`` "neurons"), over
    ``lanes`` source neurons whose rows hold ``fan`` synapses ("events"), or over
    ``lanes`` target neurons with ``fan`` sources ("dense")."""
    triton = import_triton()
    lanes_p2 = triton.next_power_of_2(max(lanes, 1))
    fan_p2 = triton.next_power_of_2(max(fan, 1))
    if interpreting():
        if kind == "events":
            return min(lanes_p2, max(16, 65536 // fan_p2)), fan_p2
        if kind == "dense":
            return lanes_p2, min(fan_p2, max(16, 65536 // lanes_p2))
        return min(lanes_p2, 1 << 16), 1
    if kind == "events":
        return min(lanes_p2, 32), min(fan_p2, 64)
    if kind == "dense":
        return min(lanes_p2, 64), min(fan_p2, 64)
    return min(lanes_p2, 256), 1
