"""Connectivity drawing (``snncc.frontend.connectivity``): distinct draws per row, fixed
fan-in and Bernoulli (``p=``) connectivity -- exact counts, distinct values, order and
uniformity (fresh random seeds, 6-sigma bounds), directly and through ``sc.Connection``.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

import snncc as sc
from snncc.frontend import connectivity as conn
from snncc.units import ms

COUNTER = sc.NeuronModel("x : 1", name="counter")


def split_rows(values: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    return np.split(values, np.cumsum(counts)[:-1]) if counts.size else []


def check_rows(values: np.ndarray, counts: np.ndarray, n: int | np.ndarray) -> None:
    """Each row holds exactly its count of distinct values in [0, n), sorted."""
    assert values.dtype == np.int64
    assert values.size == counts.sum()
    bound = np.broadcast_to(n, counts.shape)
    for row, k, m in zip(split_rows(values, counts), counts, bound, strict=True):
        assert row.size == k
        assert np.all(np.diff(row) > 0), "sorted and distinct within the row"
        assert row.size == 0 or (row[0] >= 0 and row[-1] < m)


def check_pairs(i: np.ndarray, j: np.ndarray, n_pre: int, n_post: int) -> None:
    """Integer pairs in range, sorted by (i, j), no pair twice."""
    assert i.dtype.kind == "i" and j.dtype.kind == "i" and i.shape == j.shape
    assert i.size == 0 or (i.min() >= 0 and i.max() < n_pre and j.min() >= 0
                           and j.max() < n_post)
    assert np.all(np.diff(i.astype(np.int64) * n_post + j) > 0)


def within(observed: np.ndarray, mean: np.ndarray, var: np.ndarray) -> bool:
    return bool(np.all(np.abs(observed - mean) <= 6 * np.sqrt(var) + 1e-9))


# ------------------------------------------------------------------ distinct_per_row
@pytest.mark.parametrize("n", [1, 2, 7, 50, 1000])
def test_distinct_per_row_counts(fresh_seed: int, n: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    # ragged: empty rows, all of [0, n), one short of it, around n / 2, random counts
    edge = [0, n, n - 1, n // 2, n // 2 + 1, 1, min(2, n)]
    counts = np.array(edge + rng.integers(0, n + 1, 40).tolist(), np.int64)
    counts = counts[rng.permutation(counts.size)]
    check_rows(conn.distinct_per_row(counts, n, rng), counts, n)
    # equal counts (rows sorted side by side) and a few long rows among empty ones
    for counts in (np.full(30, max(n // 3, 1)), np.array([0] * 50 + [n // 2, n])):
        check_rows(conn.distinct_per_row(counts, n, rng), counts, n)


def test_distinct_per_row_bound_per_row(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    n = rng.integers(0, 60, 300)
    counts = rng.integers(0, n + 1)
    check_rows(conn.distinct_per_row(counts, n, rng), counts, n)


def test_distinct_per_row_empty() -> None:
    rng = np.random.default_rng(0)
    assert conn.distinct_per_row(np.zeros(0, np.int64), 5, rng).size == 0
    assert conn.distinct_per_row(np.zeros(4, np.int64), 5, rng).size == 0
    assert conn.distinct_per_row(np.zeros(3, np.int64), 0, rng).size == 0
    np.testing.assert_array_equal(conn.distinct_per_row(np.array([3, 3]), 3, rng),
                                  [0, 1, 2, 0, 1, 2])


def test_distinct_per_row_chunks(fresh_seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows split over many chunks (some rows longer than a chunk) are drawn alike."""
    monkeypatch.setattr(conn, "_CHUNK_DRAWS", 64)
    rng = np.random.default_rng(fresh_seed)
    n = 300
    counts = rng.integers(0, n + 1, 200)
    check_rows(conn.distinct_per_row(counts, n, rng), counts, n)
    counts = np.full(4000, 10)
    values = conn.distinct_per_row(counts, n, rng)
    check_rows(values, counts, n)
    freq = np.bincount(values, minlength=n)
    q = 10 / n
    assert within(freq, 4000 * q, 4000 * q * (1 - q))


@pytest.mark.parametrize("n, k", [(5, 2), (6, 3), (6, 4), (5, 5), (4, 1), (9, 2),
                                  (12, 3)])
def test_distinct_per_row_uniform_subsets(fresh_seed: int, n: int, k: int) -> None:
    """Every k-subset of [0, n) is equally likely (rows drawn by rejection, with many
    duplicates redrawn, and by a mask brought to the exact count)."""
    rng = np.random.default_rng(fresh_seed)
    rows = 30000
    values = conn.distinct_per_row(np.full(rows, k), n, rng).reshape(rows, k)
    index = {s: t for t, s in enumerate(combinations(range(n), k))}
    freq = np.bincount([index[tuple(r)] for r in values.tolist()], minlength=len(index))
    q = 1 / len(index)
    assert within(freq, rows * q, rows * q * (1 - q))


@pytest.mark.parametrize("n, k, rows", [(200, 1, 3000), (200, 20, 3000), (200, 50, 3000),
                                        (200, 51, 3000), (200, 100, 3000),
                                        (200, 180, 3000), (200, 199, 3000),
                                        (8, 2, 200000), (12, 3, 200000),
                                        (24, 3, 1000000)])
def test_distinct_per_row_uniform_values(fresh_seed: int, n: int, k: int, rows: int
                                         ) -> None:
    """Every value is equally likely (many short rows: a bias of the corrections, such
    as redrawing duplicates in one row in eight, shows)."""
    rng = np.random.default_rng(fresh_seed)
    values = conn.distinct_per_row(np.full(rows, k), n, rng)
    freq = np.bincount(values, minlength=n)
    q = k / n
    assert within(freq, rows * q, rows * q * (1 - q))


# ---------------------------------------------------------------------- fan_in
@pytest.mark.parametrize("n_pre, n_post, k", [(20, 15, 7), (20, 15, 0), (20, 15, 20),
                                              (20, 15, 19), (1, 9, 1), (1, 9, 0),
                                              (9, 0, 3), (0, 4, 0), (500, 300, 60)])
def test_fan_in_exact(fresh_seed: int, n_pre: int, n_post: int, k: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    i, j = conn.pairs_fan_in(n_pre, n_post, k, rng)
    check_pairs(i, j, n_pre, n_post)
    np.testing.assert_array_equal(np.bincount(j, minlength=n_post), np.full(n_post, k))


def test_fan_in_uniform(fresh_seed: int) -> None:
    """Each presynaptic neuron is chosen equally often (out-degree ~ Binomial)."""
    rng = np.random.default_rng(fresh_seed)
    n_pre, n_post = 300, 2000
    for k in (3, 150, 250):
        i, _ = conn.pairs_fan_in(n_pre, n_post, k, rng)
        q = k / n_pre
        assert within(np.bincount(i, minlength=n_pre), n_post * q, n_post * q * (1 - q))


# ------------------------------------------------------------------ p= (Bernoulli)
@pytest.mark.parametrize("p", [0.0, 0.02, 0.3, 0.5, 0.8, 1.0])
def test_bernoulli(fresh_seed: int, p: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """``pairs_full`` with ``p``, by a dense mask (small) and by per-row counts and
    distinct draws (large: here made small by lowering the limit)."""
    rng = np.random.default_rng(fresh_seed)
    n_pre, n_post = 400, 300
    for limit in (1 << 24, 1000):
        monkeypatch.setattr(conn, "_DENSE_LIMIT", limit)
        i, j = conn.pairs_full(n_pre, n_post, rng, p=p)
        check_pairs(i, j, n_pre, n_post)
        n = n_pre * n_post
        assert within(np.array(i.size), n * p, n * p * (1 - p))
        # the synapses of each block of presynaptic rows / postsynaptic columns: Binomial
        # (blocks large enough to expect >= 50 synapses, so that 6 sigma is 6 sigma)
        for idx, m, other in ((i, n_pre, n_post), (j, n_post, n_pre)):
            g = max(1, int(np.ceil(50 / (other * p)))) if p > 0 else m
            pairs = np.bincount(np.arange(m) // g) * other
            assert within(np.bincount(idx // g, minlength=pairs.size), pairs * p,
                          pairs * p * (1 - p))


def test_bernoulli_rows(fresh_seed: int) -> None:
    rng = np.random.default_rng(fresh_seed)
    for n_pre, n_post in ((1, 500), (500, 1), (0, 10), (10, 0)):
        i, j = conn._sparse_bernoulli(n_pre, n_post, 0.4, rng)
        check_pairs(i, j, n_pre, n_post)


# ------------------------------------------------------------------ public API
def projection(n_pre: int, n_post: int, seed: int, **connect: object
               ) -> tuple[np.ndarray, np.ndarray]:
    net = sc.Network(seed=seed)
    with net:
        a = sc.SpikeGeneratorGroup(n_pre, np.array([0]), np.array([1.0]) * ms)
        b = sc.NeuronGroup(n_post, COUNTER)
        sc.Connection(a, b, on_pre="x += 1", name="c", **connect)
    pr = net.compile().program.projections["c"]
    return np.asarray(pr.i), np.asarray(pr.j)


def test_connection_fan_in(fresh_seed: int) -> None:
    k = 40
    i, j = projection(120, 700, fresh_seed, fan_in=k)
    check_pairs(i, j, 120, 700)
    np.testing.assert_array_equal(np.bincount(j, minlength=700), np.full(700, k))


def test_connection_p(fresh_seed: int) -> None:
    p, n_pre, n_post = 0.05, 300, 400
    i, j = projection(n_pre, n_post, fresh_seed, p=p)
    check_pairs(i, j, n_pre, n_post)
    n = n_pre * n_post
    assert within(np.array(i.size), n * p, n * p * (1 - p))
