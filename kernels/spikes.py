"""Spikes on the device: the history ring buffer that carries them through synaptic delays,
and compaction of a raster into the list of spiking indices.

The history of a population is an int8 tensor ``hist[L, lanes]`` (L = longest delay + 1
steps): ``record`` writes the spikes of step n into row ``n % L``; ``delayed`` reads the
spikes of step ``n - d`` (none before step d), which stay there for ``L - 1`` more steps.

``compact(flags)`` returns the indices of the non-zero entries of a 1-d int8 tensor in
increasing order. Each program counts the spikes of its block, reserves room in the
output with one atomic add, and writes its indices at the reserved place (a prefix sum
within the block); blocks finish in any order, so the list is sorted at the end.
"""

from __future__ import annotations

import torch
from snncc.kernels import import_triton

triton = import_triton()
import triton.language as tl  # noqa: E402


@triton.jit
def record(hist_ptr, step, L, lanes, lane, spk, mask):
    """Write the spikes ``spk`` (a block over ``lane``) of step ``step`` into the ring."""
    tl.store(hist_ptr + (step % L) * lanes + lane, spk.to(tl.int8), mask=mask)


@triton.jit
def delayed(hist_ptr, step, delay, L, lanes, lane):
    """The spikes (int1) of ``lane`` at step ``step - delay`` (``delay < L``); False for
    lanes past ``lanes`` and before step ``delay``."""
    ok = (lane < lanes) & (lane * 0 + step >= delay)
    return tl.load(hist_ptr + ((step - delay + L) % L) * lanes + lane, mask=ok, other=0) != 0


@triton.jit
def compact_kernel(flags_ptr, n, out_ptr, count_ptr, BLOCK: tl.constexpr):
    """Append the indices ``k < n`` with ``flags[k] != 0`` to ``out`` (count in
    ``count[0]``)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    f = (tl.load(flags_ptr + offs, mask=mask, other=0) != 0).to(tl.int32)
    total = tl.sum(f, axis=0)
    if total > 0:
        base = tl.atomic_add(count_ptr, total)
        pos = base + tl.cumsum(f, axis=0) - 1
        tl.store(out_ptr + pos, offs.to(tl.int64), mask=f != 0)


def compact(flags: torch.Tensor, block: int = 1024) -> torch.Tensor:
    """The sorted int64 indices of the non-zero entries of ``flags`` (1-d, int8/bool)."""
    flags = flags.reshape(-1).contiguous()
    if flags.dtype == torch.bool:
        flags = flags.view(torch.int8)
    n = flags.numel()
    out = torch.empty(max(n, 1), dtype=torch.int64, device=flags.device)
    count = torch.zeros(1, dtype=torch.int32, device=flags.device)
    if n:
        block = min(block, triton.next_power_of_2(n))
        compact_kernel[(triton.cdiv(n, block),)](flags, n, out, count, BLOCK=block)
    return torch.sort(out[:int(count.item())]).values
