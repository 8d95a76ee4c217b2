"""Counter-based random numbers for generated Triton kernels (imported as ``_r``).

A draw is Philox (``tl.rand`` / ``tl.randn``) keyed by the network seed and the draw
site's stream number, with the counter ``step * lanes + lane``: no state to carry
between steps, identical numbers on every run with the same seed (and after a
``state_dict`` round trip), and a step loop that can be captured in a CUDA graph.
Draws are float32 (24 random bits) whatever the simulation dtype.

``tl.cast`` (not ``tl.to_tensor``, which Triton 3.6 lacks) turns the seed, the stream
number (a literal, so a constexpr) and the step into int64 on every supported Triton.
"""

from __future__ import annotations

from snncc.kernels import import_triton

triton = import_triton()
import triton.language as tl  # noqa: E402


@triton.jit
def key(seed, stream):
    """The Philox key of one draw site: the seed (31 bits) in the low word, the stream
    number in the high word."""
    return tl.cast(seed, tl.int64) + tl.cast(stream, tl.int64) * 4294967296


@triton.jit
def counter(n, lane, lanes):
    """The Philox counter of ``lane`` (of ``lanes``) at step ``n``."""
    return tl.cast(n, tl.int64) * lanes + lane.to(tl.int64)


@triton.jit
def uniform(seed, stream, n, lane, lanes):
    """Uniform in [0, 1), one per lane."""
    return tl.rand(key(seed, stream), counter(n, lane, lanes))


@triton.jit
def normal(seed, stream, n, lane, lanes):
    """Standard normal, one per lane."""
    return tl.randn(key(seed, stream), counter(n, lane, lanes))


@triton.jit
def bernoulli(seed, stream, n, lane, lanes, p):
    """True with probability ``p`` (a block or scalar), one per lane."""
    return uniform(seed, stream, n, lane, lanes) < p


@triton.jit
def bernoulli_kernel(out_ptr, p_ptr, seed, stream, n, lanes, BLOCK: tl.constexpr):
    """``out[k] = bernoulli(p[k])`` for one step ``n`` (Poisson spikes with p = rate*dt)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < lanes
    p = tl.load(p_ptr + offs, mask=mask, other=0.0)
    spk = bernoulli(seed, stream, n, offs, lanes, p)
    tl.store(out_ptr + offs, spk.to(tl.int8), mask=mask)
