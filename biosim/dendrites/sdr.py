"""Sparse distributed representations (SDRs), stored bit-packed.

An SDR is a binary vector of n bits with a of them active. Here a batch of SDRs is a
``uint64`` array of shape (..., ceil(n / 64)) in the layout of :mod:`biosim.core.bits`.
Functions convert to and from dense bool arrays and index lists, and compute overlaps (popcount of the AND), unions (OR) and noise.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from biosim.core import bits
from biosim.core.bits import clear_bit, set_bit, test_bit
from biosim.core.fastrandom import bounded, load, partial_shuffle, seed_state, store
from biosim.core.random import make_rng
from biosim.core.validation import array, fail, integer

__all__ = ["n_words", "random_sdrs", "pack", "unpack", "from_indices", "to_indices",
           "count", "overlap", "union", "add_noise"]


def n_words(n: int) -> int:
    """Number of 64-bit words that hold n bits."""
    return (integer("n", n, low=1) + 63) // 64


@njit(cache=True)
def random_subset(st, n, k, words, idx):
    """Write a uniform random k-subset of range(n) into ``words`` (cleared first) and ``idx``;
    ``st`` is a :mod:`biosim.core.fastrandom` stream (tuple), returned advanced.

    Robert Floyd's algorithm: k draws, each a bit test, whatever n is.
    """
    for w in range(words.shape[0]):
        words[w] = 0
    for c, j in enumerate(range(n - k, n)):
        t, st = bounded(st, j + 1)
        if test_bit(words, t):
            t = j
        set_bit(words, t)
        idx[c] = t
    return st


@njit(cache=True)
def move_bits(st, n, row, act, k, v, orig):
    """Noise on one SDR ``row``: v of its k active bits (listed in ``act[:k]``, partly
    shuffled in place) turn off and v bits that were inactive turn on. ``orig``: scratch of
    the row's length. Returns the advanced stream."""
    orig[:] = row
    st = partial_shuffle(st, act, k, v)
    for j in range(v):
        clear_bit(row, act[j])
    moved = 0
    while moved < v:
        t, st = bounded(st, n)
        if not test_bit(orig, t) and not test_bit(row, t):
            set_bit(row, t)
            moved += 1
    return st


@njit(cache=True)
def _random_sdrs(state, n, a, size, out):
    idx = np.empty(a, np.int64)
    st = load(state)
    for r in range(size):
        st = random_subset(st, n, a, out[r], idx)
    store(state, st)


def random_sdrs(n: int, a: int, size: int = 1, *, seed=None) -> np.ndarray:
    """``size`` independent uniform random SDRs of n bits with exactly a active, packed."""
    n = integer("n", n, low=1)
    a = integer("a", a, low=0, high=n)
    size = integer("size", size, low=0)
    out = np.zeros((size, n_words(n)), np.uint64)
    _random_sdrs(seed_state(make_rng(seed)), n, a, size, out)
    return out


def pack(dense) -> np.ndarray:
    """Bool array (..., n) -> packed uint64 array (..., ceil(n / 64))."""
    d = np.asarray(dense)
    if d.ndim == 0:
        fail("dense", "an array of shape (..., n)", d)
    return bits.pack(d)


def unpack(packed, n: int) -> np.ndarray:
    """Packed uint64 array (..., words) -> bool array (..., n)."""
    p = _packed("packed", packed)
    return bits.unpack(p, integer("n", n, low=1, high=p.shape[-1] * 64))


def from_indices(indices, n: int) -> np.ndarray:
    """One SDR from the list of its active bits -> packed (words,)."""
    n = integer("n", n, low=1)
    idx = array("indices", indices, dtype=np.int64, ndim=1)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        fail("indices", f"values in [0, {n - 1}]", idx)
    d = np.zeros(n, bool)
    d[idx] = True
    return pack(d)


def to_indices(packed, n: int) -> np.ndarray:
    """The sorted active bits of one packed SDR (shape (words,))."""
    p = _packed("packed", packed)
    if p.ndim != 1:
        fail("packed", "one SDR of shape (words,)", f"shape {p.shape}")
    return np.flatnonzero(unpack(p, n))


def count(packed) -> np.ndarray:
    """Number of active bits of each SDR (popcount over the last axis)."""
    return np.bitwise_count(_packed("packed", packed)).sum(axis=-1)


def overlap(x, y) -> np.ndarray:
    """Number of bits active in both, broadcast over leading axes: |x AND y|."""
    return count(_packed("x", x) & _packed("y", y))


def union(packed, axis: int = 0) -> np.ndarray:
    """OR of SDRs along ``axis`` (the union of a set of patterns)."""
    return np.bitwise_or.reduce(_packed("packed", packed), axis=axis)


@njit(cache=True)
def _add_noise(state, n, v, x):
    st = load(state)
    act = np.empty(n, np.int64)
    orig = np.empty(x.shape[1], np.uint64)
    for r in range(x.shape[0]):
        k = 0
        for i in range(n):
            if test_bit(x[r], i):
                act[k] = i
                k += 1
        st = move_bits(st, n, x[r], act, k, v, orig)
    store(state, st)


def add_noise(packed, n: int, v: int, *, seed=None) -> np.ndarray:
    """Copies of the SDRs with v active bits moved to v random inactive bits (same count).

    ``packed`` is (words,) or (size, words); v must not exceed the active bits of any SDR
    nor the inactive ones.
    """
    p = _packed("packed", packed)
    n = integer("n", n, low=1, high=p.shape[-1] * 64)
    v = integer("v", v, low=0)
    x = np.atleast_2d(p).copy()
    c = count(x)
    if x.size and (v > c.min() or v > n - c.max()):
        fail("v", f"noise v <= active bits ({int(c.min())}) and <= inactive bits "
                  f"({int(n - c.max())})", v)
    _add_noise(seed_state(make_rng(seed)), n, v, x)
    return x.reshape(p.shape)


def _packed(field, x) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype != np.uint64 or a.ndim == 0:
        fail(field, "a packed SDR array of uint64 words (see biosim.dendrites.sdr.pack)",
             f"dtype {a.dtype}, shape {a.shape}")
    return a
