"""numba building blocks for bit-packed SDRs (layout: :mod:`biosim.core.bits`): a fast PRNG
and random subsets. The random numbers come from SplitMix64 (Steele, Lea &
Flood 2014), a 64-bit generator that passes BigCrush, with Lemire's (2019) unbiased
multiply-shift reduction to a range; state is a one-element ``uint64`` array so that kernels
can carry it without allocation.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from biosim.core.bits import set_bit, test_bit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_LOW32 = np.uint64(0xFFFFFFFF)
_TWO32 = np.uint64(1 << 32)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)


@njit(cache=True)
def next_u64(state):
    """Advance the SplitMix64 state (uint64[1]) and return 64 random bits."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True)
def bounded(state, bound):
    """A uniform integer in [0, bound), bound < 2**32, without modulo bias (Lemire 2019)."""
    b = np.uint64(bound)
    m = (next_u64(state) >> _S32) * b
    low = m & _LOW32
    if low < b:
        t = (_TWO32 - b) % b
        while low < t:
            m = (next_u64(state) >> _S32) * b
            low = m & _LOW32
    return np.int64(m >> _S32)


@njit(cache=True)
def random_subset(state, n, k, words, idx):
    """Write a uniform random k-subset of range(n) into ``words`` (cleared first) and ``idx``.

    Robert Floyd's algorithm: k draws, each a bit test, whatever n is.
    """
    for w in range(words.shape[0]):
        words[w] = 0
    for c, j in enumerate(range(n - k, n)):
        t = bounded(state, j + 1)
        if test_bit(words, t):
            t = j
        set_bit(words, t)
        idx[c] = t


def seed_state(rng: np.random.Generator) -> np.ndarray:
    """A SplitMix64 state drawn from a NumPy Generator."""
    return np.array([rng.integers(0, 2**63, dtype=np.uint64)], dtype=np.uint64)
