"""Connectivity generators: exact in-degrees, distinct partners, no self-connections when
asked, and uniform choice (counts within 5 standard deviations of the binomial)."""
import numpy as np
import pytest

import biosim as bs


@pytest.mark.parametrize("n,k", [(2000, 10), (50, 20)])  # sparse rows (O(synapses)), dense rows
@pytest.mark.parametrize("allow_self", [True, False])
def test_fixed_indegree(n, k, allow_self):
    pre, post = bs.fixed_indegree(k, allow_self=allow_self)(n, n, np.random.default_rng(1),
                                                            same=True)
    assert np.all(np.diff(pre) >= 0)  # CSR order
    assert np.array_equal(np.bincount(post, minlength=n), np.full(n, k))
    pairs = np.unique(pre * n + post)
    assert pairs.size == pre.size  # distinct pre units per post unit
    assert allow_self or not np.any(pre == post)
    pool = n - (0 if allow_self else 1)
    out = np.bincount(pre, minlength=n)  # each pre unit: Binomial(pool, k / pool) outputs
    mean, sd = k, np.sqrt(k * (1 - k / pool))
    assert out.mean() == mean and 0.5 * sd < out.std() < 2 * sd
    assert np.abs(out - mean).max() < 5 * sd * np.sqrt(2 * np.log(n))


def test_fixed_probability_sparse_rows_are_distinct_and_binomial():
    n, p = 5000, 0.004
    pre, post = bs.fixed_probability(p, allow_self=False)(n, n, np.random.default_rng(2),
                                                           same=True)
    assert np.unique(pre * n + post).size == pre.size and not np.any(pre == post)
    mean, sd = p * (n - 1), np.sqrt(p * (1 - p) * (n - 1))
    counts = np.bincount(pre, minlength=n)
    assert abs(counts.mean() - mean) < 5 * sd / np.sqrt(n)
    assert abs(np.bincount(post, minlength=n).mean() - mean) < 5 * sd / np.sqrt(n)


def test_stable_order_equals_numpy_stable_argsort():
    from biosim.core.connectivity import stable_order

    keys = np.random.default_rng(3).integers(0, 50, 10_000)
    assert np.array_equal(stable_order(keys, 50), np.argsort(keys, kind="stable"))
    with pytest.raises(IndexError):
        stable_order(np.array([0, 50]), 50)


def test_csr_from_pairs_in_any_order():
    from biosim.core.projection import Weights

    rng = np.random.default_rng(4)
    pre, post = rng.integers(0, 30, 500), rng.integers(0, 20, 500)
    w, order = Weights.from_pairs(pre, post, np.arange(500.0), 30, 20)
    assert np.array_equal(order, np.lexsort((post, pre)))
    assert np.array_equal(w.indices, post[order]) and np.array_equal(w.data, order)
