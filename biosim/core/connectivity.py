"""Connectivity generators and weight distributions (seeded, CSR-ordered output).

A generator is called as ``conn(n_pre, n_post, rng, same=...)`` and returns
``(pre, post)`` index arrays sorted by pre index, or ``None`` for all-to-all (dense).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from biosim.core import validation as check


@dataclass(frozen=True)
class all_to_all:
    """Every pre unit to every post unit (dense). ``allow_self=False`` removes i->i
    (only when pre and post are the same population)."""

    allow_self: bool = True

    def expected_synapses(self, n_pre, n_post) -> float:
        return float(n_pre) * n_post

    def __call__(self, n_pre, n_post, rng, same=False):
        if self.allow_self or not same:
            return None
        pre, post = np.nonzero(~np.eye(n_pre, dtype=bool))
        return pre, post


@njit(cache=True)
def stable_order(keys, n_keys):
    """The stable sorting order of integer ``keys`` in range(n_keys) (a counting sort:
    O(len(keys) + n_keys), where NumPy's stable argsort of int64 is O(n log n))."""
    start = np.zeros(n_keys + 1, np.int64)
    for k in keys:
        if k < 0 or k >= n_keys:
            raise IndexError("stable_order: a key outside range(n_keys)")
        start[k + 1] += 1
    for i in range(n_keys):
        start[i + 1] += start[i]
    order = np.empty(keys.size, np.int64)
    for i in range(keys.size):
        order[start[keys[i]]] = i
        start[keys[i]] += 1
    return order


@njit(cache=True)
def _sort_rows(values, bounds):
    """Sort each slice values[bounds[i]:bounds[i + 1]] in place (short rows: cache-friendly,
    O(n log row) where one sort of everything is O(n log n))."""
    for i in range(bounds.size - 1):
        values[bounds[i]:bounds[i + 1]] = np.sort(values[bounds[i]:bounds[i + 1]])


def _distinct_per_row(row, pool, rng):
    """For each entry of ``row`` (sorted), a uniform draw from range(pool), distinct within a
    row and sorted in it: all rows at once; repeats in a row are redrawn."""
    offset = rng.integers(0, max(pool, 1), row.size)
    bounds = np.flatnonzero(np.diff(row, prepend=-1, append=row[-1] + 1 if row.size else 0))
    while True:
        _sort_rows(offset, bounds)
        dup = np.flatnonzero((offset[1:] == offset[:-1]) & (row[1:] == row[:-1])) + 1
        if not dup.size:
            return offset
        offset[dup] = rng.integers(0, pool, dup.size)


@dataclass(frozen=True)
class fixed_probability:
    """Each pair connected independently with probability ``p``."""

    p: float
    allow_self: bool = True

    def __post_init__(self):
        check.probability("p", self.p)
        if not isinstance(self.allow_self, (bool, np.bool_)):
            check.fail("allow_self", "True or False", self.allow_self)

    def expected_synapses(self, n_pre, n_post) -> float:
        return self.p * n_pre * n_post

    def __call__(self, n_pre, n_post, rng, same=False):
        skip_self = same and not self.allow_self
        pool = n_post - 1 if skip_self else n_post
        counts = rng.binomial(pool, self.p, size=n_pre)
        pre = np.repeat(np.arange(n_pre, dtype=np.int64), counts)
        if self.p > 0.02:  # per pre unit (these draws are what seeded networks hold)
            post = np.concatenate([np.sort(rng.choice(pool, size=k, replace=False))
                                   for k in counts if k] or [np.zeros(0, np.int64)])
        else:
            post = _distinct_per_row(pre, pool, rng)
        if skip_self:
            post[post >= pre] += 1
        return pre.astype(np.int64), post.astype(np.int64)


@dataclass(frozen=True)
class fixed_indegree:
    """Each post unit receives exactly ``k`` distinct pre units."""

    k: int
    allow_self: bool = True

    def __post_init__(self):
        check.integer("k", self.k, low=0)
        if not isinstance(self.allow_self, (bool, np.bool_)):
            check.fail("allow_self", "True or False", self.allow_self)

    def expected_synapses(self, n_pre, n_post) -> float:
        return float(self.k) * n_post

    def __call__(self, n_pre, n_post, rng, same=False):
        skip_self = same and not self.allow_self
        pool = n_pre - (1 if skip_self else 0)
        if self.k > pool:
            check.fail("k", f"<= {pool} (the number of available pre units)", self.k)
        post = np.repeat(np.arange(n_post, dtype=np.int64), self.k)
        if 10 * self.k > pool:  # dense rows: k of the pool per post unit
            pre = np.concatenate([rng.choice(pool, size=self.k, replace=False)
                                  for _ in range(n_post)] or [np.zeros(0, np.int64)])
        else:
            pre = _distinct_per_row(post, pool, rng)
        if skip_self:
            pre[pre >= post] += 1
        order = stable_order(pre, n_pre)  # by pre; post stays ascending within a row
        return pre[order], post[order]


@dataclass(frozen=True)
class uniform:
    """Weights drawn from U[low, high)."""

    low: float
    high: float

    def __post_init__(self):
        check.number("low", self.low)
        check.number("high", self.high, low=self.low)

    def __call__(self, rng, size):
        return rng.uniform(self.low, self.high, size)


@dataclass(frozen=True)
class normal:
    """Weights drawn from N(mean, std)."""

    mean: float
    std: float

    def __post_init__(self):
        check.number("mean", self.mean)
        check.nonnegative("std", self.std)

    def __call__(self, rng, size):
        return rng.normal(self.mean, self.std, size)


def draw_weights(field, weight, rng, size):
    """A scalar, an array of the right size, or a distribution called as ``f(rng, size)``."""
    if callable(weight):
        w = np.asarray(weight(rng, size), dtype=float)
        if w.size != np.prod(size):
            check.fail(field, f"a distribution returning {int(np.prod(size))} values",
                       f"shape {w.shape}")
        return w.reshape(size)
    w = check.array(field, weight)
    if w.ndim == 0:
        return np.full(size, float(w))
    if w.shape != tuple(size) and (w.ndim != 1 or w.size != np.prod(size)):
        want = f"shape {tuple(size)}" if len(size) > 1 else f"size {size[0]}"
        check.fail(field, f"a scalar, a distribution or an array of {want}", f"shape {w.shape}")
    return w.reshape(size).copy()
