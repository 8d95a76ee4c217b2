"""Connectivity: the (i, j) index pairs of a connection, generated on the host."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from snncc.errors import ParameterError, ShapeError

_DENSE_LIMIT = 1 << 24  # pairs evaluated at once
_CHUNK_DRAWS = 1 << 20  # values drawn at once (bounds the temporaries)


def pairs_full(n_pre: int, n_post: int, rng: np.random.Generator, p: float | None = None,
               condition: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """All pairs, optionally filtered by a condition on (i, j) and kept with probability
    ``p``, sorted by (i, j); rows are processed in chunks so memory stays bounded."""
    if condition is None and p is not None and p < 1 and n_pre * n_post > _DENSE_LIMIT:
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
        a += r0
        out_i.append(a)
        out_j.append(b)
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_i), np.concatenate(out_j)


def _sparse_bernoulli(n_pre: int, n_post: int, p: float, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Each pair independently with probability p, without a dense mask: a binomial
    count per row, then that many distinct targets; sorted by (i, j)."""
    counts = rng.binomial(n_post, p, size=n_pre).astype(np.int64)
    i = np.repeat(np.arange(n_pre, dtype=np.int64), counts)
    return i, distinct_per_row(counts, n_post, rng)


def pairs_one_to_one(n: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.arange(n, dtype=np.int64)
    return a, a.copy()


def pairs_fan_in(n_pre: int, n_post: int, k: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Each postsynaptic neuron receives exactly ``k`` distinct presynaptic neurons
    (uniform over the k-subsets); sorted by (i, j)."""
    key = distinct_per_row(np.full(n_post, k, np.int64), n_pre, rng)
    # key = i * n_post + j, sorted, then split in place: 16 bytes per synapse at most
    key *= n_post
    key.reshape(n_post, k)[...] += np.arange(n_post, dtype=np.int64)[:, None]
    key.sort()
    i = key // n_post
    np.remainder(key, n_post, out=key)
    return i, key


def distinct_per_row(counts: np.ndarray, n: int | np.ndarray, rng: np.random.Generator
                     ) -> np.ndarray:
    """For each row r, ``counts[r]`` distinct integers in ``[0, n)`` (``n`` one bound or
    one per row), uniform over such subsets and sorted within the row; all rows
    concatenated in order (int64).

    Expected O(sum(counts) + rows) time and memory: rows are drawn in chunks of about
    ``_CHUNK_DRAWS`` values, with no Python loop per row."""
    counts = np.asarray(counts, np.int64)
    bound = np.broadcast_to(np.asarray(n, np.int64), counts.shape)
    ends = np.cumsum(counts)
    total = int(ends[-1]) if counts.size else 0
    out = np.empty(total, np.int64)
    cuts = np.searchsorted(ends, np.arange(_CHUNK_DRAWS, total, _CHUNK_DRAWS), "right")
    bounds = np.unique(np.concatenate(([0], cuts, [counts.size])))
    for r0, r1 in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if r1 > r0:
            out[ends[r0] - counts[r0]:ends[r1 - 1]] = _distinct_chunk(
                counts[r0:r1], bound[r0:r1], rng)
    return out


def _distinct_chunk(counts: np.ndarray, n: np.ndarray, rng: np.random.Generator
                    ) -> np.ndarray:
    """``distinct_per_row`` for one chunk of rows (``n`` per row): a row asking for more
    than an eighth of its range is drawn by a mask over the range, the others by
    rejection (cheaper where few values are drawn from a wide range)."""
    by_mask = 8 * counts > n
    if by_mask.all():
        return _by_mask(counts, n, rng)
    if not by_mask.any():
        return _by_rejection(counts, n, rng)
    out = np.empty(int(counts.sum()), np.int64)
    starts = np.cumsum(counts) - counts
    for rows, draw in ((by_mask, _by_mask), (~by_mask, _by_rejection)):
        c = counts[rows]
        at = np.repeat(starts[rows] - (np.cumsum(c) - c), c) + np.arange(c.sum())
        out[at] = draw(c, n[rows], rng)
    return out


def _by_mask(counts: np.ndarray, n: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each row a Bernoulli mask over ``[0, n)`` that selects a few more values than
    asked (3 sigma), brought to the exact count by dropping a uniform choice of the
    surplus (or adding one of the missing ones): uniform over the subsets, as every
    step treats all values of a row alike. O(n) per row."""
    rows, width = counts.size, int(n.max())
    f = counts / n
    # a short row (where the margin would take over half the values left) aims at the
    # count itself: a large correction would ask for another mask as wide
    q = f + (3 * np.sqrt(counts * (1 - f)) + 1) / n
    q = np.where(q < (1 + f) / 2, q, f).astype(np.float32)[:, None]
    mask = rng.random((rows, width), dtype=np.float32) < q
    if n.min() < width:
        mask &= np.arange(width) < n[:, None]
    chosen = mask.sum(axis=1)
    pos = np.flatnonzero(mask)  # row * width + value, sorted
    excess = chosen - counts
    fix = np.flatnonzero(excess)
    if fix.size:
        # one draw for every correction: which chosen values a row drops, or which free
        # ones it adds
        k, over = np.abs(excess[fix]), excess[fix] > 0
        ranks = distinct_per_row(k, np.where(over, chosen[fix], n[fix] - chosen[fix]), rng)
        ranks_over = np.repeat(over, k)
        if over.any():
            keep = np.ones(pos.size, bool)
            keep[np.repeat((np.cumsum(chosen) - chosen)[fix[over]], k[over])
                 + ranks[ranks_over]] = False
            pos = pos[keep]
        under = fix[~over]
        if under.size:
            free = ~mask[under] & (np.arange(width) < n[under, None])
            n_free = n[under] - chosen[under]
            add = np.flatnonzero(free)[np.repeat(np.cumsum(n_free) - n_free, k[~over])
                                       + ranks[~ranks_over]]
            row = add // width
            add += (under[row] - row) * width
            pos = np.insert(pos, np.searchsorted(pos, add), add)
    pos %= width
    return pos


def _by_rejection(counts: np.ndarray, n: np.ndarray, rng: np.random.Generator
                  ) -> np.ndarray:
    """Rows of at most an eighth of their range (so a redraw succeeds with probability
    >= 7/8): draws with replacement, then redraws only the duplicates until none are
    left; uniform over the subsets, as every step treats all values alike."""
    width = int(n.max(initial=0))
    keys = _sorted_draws(counts, n, width, rng)  # row * width + value
    if not keys.size:
        return keys
    dup = keys[1:] == keys[:-1]
    lost = keys[1:][dup] // width  # the rows that still miss a value, one per value
    if lost.size:
        keys = keys[np.concatenate(([True], ~dup))]
        extra = np.zeros(0, np.int64)  # accepted redraws, sorted
        while lost.size:
            cand = lost * width + rng.integers(0, n[lost])
            cand.sort()
            new = np.ones(cand.size, bool)
            new[1:] = cand[1:] != cand[:-1]
            new &= ~_in_sorted(cand, keys) & ~_in_sorted(cand, extra)
            lost = cand[~new] // width
            extra = np.insert(extra, np.searchsorted(extra, cand[new]), cand[new])
        keys = np.insert(keys, np.searchsorted(keys, extra), extra)
    keys %= width
    return keys


def _sorted_draws(counts: np.ndarray, n: np.ndarray, width: int, rng: np.random.Generator
                  ) -> np.ndarray:
    """Sorted keys ``row * width + value``: ``counts[row]`` values per row drawn uniformly
    from ``[0, n[row])`` with replacement (``width`` >= every n)."""
    rows, longest = counts.size, int(counts.max(initial=0))
    same = n.min(initial=width) == width  # one bound: a scalar one draws 3x faster
    if rows * longest <= 2 * int(counts.sum()):
        # rows padded to the longest and sorted each alone: faster than one long sort
        v = rng.integers(0, width if same else n[:, None], size=(rows, longest))
        valid = np.arange(longest) < counts[:, None]
        v[~valid] = width  # the padding sorts last
        v.sort(axis=1)
        v += np.arange(rows, dtype=np.int64)[:, None] * width
        return v[valid]
    keys = np.repeat(np.arange(rows, dtype=np.int64) * width, counts)
    keys += rng.integers(0, width if same else np.repeat(n, counts), size=keys.size)
    keys.sort()
    return keys


def _in_sorted(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Whether each element of ``x`` occurs in the sorted array ``s``."""
    if not s.size:
        return np.zeros(x.size, bool)
    pos = np.minimum(np.searchsorted(s, x), s.size - 1)
    return s[pos] == x


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
