"""Connectivity: the (i, j) index pairs of a connection, generated on the host."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from snncc.errors import ParameterError, ShapeError

_DENSE_LIMIT = 1 << 24  # pairs evaluated at once


def pairs_full(n_pre: int, n_post: int, rng: np.random.Generator, p: float | None = None,
               condition: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """All pairs, optionally filtered by a condition on (i, j) and kept with probability
    ``p``; rows are processed in chunks so memory stays bounded."""
    if condition is None and p is not None and p < 0.2 and n_pre * n_post > _DENSE_LIMIT:
        return _sparse_bernoulli(n_pre, n_post, p, rng)
    rows = max(1, _DENSE_LIMIT // max(n_post, 1))
    out_i, out_j = [], []
    jj = np.arange(n_post, dtype=np.int64)
    for r0 in range(0, n_pre, rows):
        r1 = min(n_pre, r0 + rows)
        ii = np.arange(r0, r1, dtype=np.int64)
        mask = np.ones((r1 - r0, n_post), dtype=bool)
        if condition is not None:
            mask &= np.broadcast_to(condition(ii[:, None], jj[None, :]), mask.shape)
        if p is not None and p < 1:
            mask &= rng.random(mask.shape) < p
        a, b = np.nonzero(mask)
        out_i.append(a.astype(np.int64) + r0)
        out_j.append(b.astype(np.int64))
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_i), np.concatenate(out_j)


def _sparse_bernoulli(n_pre: int, n_post: int, p: float, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Each pair independently with probability p, without a dense mask: a binomial
    count per row, then that many distinct targets."""
    counts = rng.binomial(n_post, p, size=n_pre)
    out_j = [np.sort(rng.choice(n_post, size=int(k), replace=False)) for k in counts]
    i = np.repeat(np.arange(n_pre, dtype=np.int64), counts)
    j = np.concatenate(out_j).astype(np.int64) if out_j else np.zeros(0, np.int64)
    return i, j


def pairs_one_to_one(n: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.arange(n, dtype=np.int64)
    return a, a.copy()


def pairs_fan_in(n_pre: int, n_post: int, k: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Each postsynaptic neuron receives exactly ``k`` distinct presynaptic neurons."""
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cols = max(1, _DENSE_LIMIT // max(n_pre, 1))
    pre = []
    for c0 in range(0, n_post, cols):
        c1 = min(n_post, c0 + cols)
        keys = rng.random((c1 - c0, n_pre))
        pre.append(np.sort(np.argpartition(keys, k - 1, axis=1)[:, :k], axis=1))
    i = np.concatenate(pre).reshape(-1).astype(np.int64)
    j = np.repeat(np.arange(n_post, dtype=np.int64), k)
    order = np.lexsort((j, i))
    return i[order], j[order]


def _pair(v: object, what: str, who: str, minimum: int) -> tuple[int, int]:
    try:
        t = (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)
    except (TypeError, ValueError):
        t = ()
    if len(t) != 2 or min(t) < minimum:
        raise ParameterError(f"{who}: {what} must be an integer >= {minimum} or a pair of "
                             f"them, got {v!r}")
    return t  # type: ignore[return-value]


def pairs_conv(pre_shape: tuple[int, ...], post_shape: tuple[int, ...], kernel_size: object,
               stride: object, padding: object, who: str = "Connection"
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Synapses of a 2-d convolution (cross-correlation, as ``torch.nn.Conv2d``) from a
    ``(C, H, W)`` layer to a ``(C', H', W')`` layer: ``(i, j, kernel index, kernel
    shape (C', C, kh, kw))``; a tap that falls on the zero padding makes no synapse."""
    kh, kw = _pair(kernel_size, "kernel_size", who, 1)
    sh, sw = _pair(stride, "stride", who, 1)
    ph, pw = _pair(padding, "padding", who, 0)
    C, H, W = pre_shape
    Co, Ho, Wo = post_shape
    eh, ew = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    if (Ho, Wo) != (eh, ew):
        raise ShapeError(f"{who}: a {kh}x{kw} convolution with stride ({sh}, {sw}) and "
                         f"padding ({ph}, {pw}) maps {H}x{W} to {eh}x{ew}, but the post "
                         f"group's shape is {tuple(post_shape)}; use shape=({Co}, {eh}, "
                         f"{ew}) for the post group")
    # every (out channel, out y, out x, in channel, ky, kx) tap
    oc, oy, ox, ic, ky, kx = np.meshgrid(np.arange(Co), np.arange(Ho), np.arange(Wo),
                                         np.arange(C), np.arange(kh), np.arange(kw),
                                         indexing="ij")
    y = oy * sh - ph + ky
    x = ox * sw - pw + kx
    ok = (y >= 0) & (y < H) & (x >= 0) & (x < W)
    i = (ic * H * W + y * W + x)[ok]
    j = (oc * Ho * Wo + oy * Wo + ox)[ok]
    k = (((oc * C + ic) * kh + ky) * kw + kx)[ok]
    order = np.lexsort((j, i))
    return (i[order].astype(np.int64), j[order].astype(np.int64), k[order].astype(np.int64),
            (Co, C, kh, kw))
