"""Monte-Carlo estimates of dendritic detector errors over bit-packed SDRs (numba).

Each sample draws the SDRs that the theory averages over (Floyd's algorithm into 64-bit
words), computes the segment's overlap with a popcount of the AND, and compares it with the
threshold theta. Results come with the binomial standard error sqrt(p (1 - p) / N).
``backend="numpy"`` runs the same estimate with plain NumPy (vectorised in batches), the
reference that the benchmark compares against.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from biosim.core.random import make_rng
from biosim.core.validation import choice, fail, integer
from biosim.core.bits import overlap, set_bit
from biosim.core.fastrandom import load, partial_shuffle, seed_state
from biosim.dendrites.sdr import move_bits, random_subset
from biosim.dendrites.theory import _validate

__all__ = ["MCResult", "false_match_rate", "false_negative_rate", "union_false_match_rate",
           "union_segment_false_match_rate"]


@dataclass(frozen=True)
class MCResult:
    """A Monte-Carlo error rate: ``count`` events in ``n_samples`` draws."""

    count: int
    n_samples: int

    @property
    def p(self) -> float:
        """The estimated probability count / n_samples."""
        return self.count / self.n_samples

    @property
    def se(self) -> float:
        """Binomial standard error of ``p``."""
        return math.sqrt(self.p * (1.0 - self.p) / self.n_samples)

    def z_score(self, p_true: float) -> float:
        """(p - p_true) / SE, with the SE of the true value (defined also when count is 0)."""
        se = math.sqrt(p_true * (1.0 - p_true) / self.n_samples)
        return (self.p - p_true) / se if se > 0 else (0.0 if self.p == p_true else math.inf)


@njit(cache=True)
def _false_match_kernel(state, n, a, s, theta, n_samples, resample):
    words = (n + 63) // 64
    x = np.zeros(words, np.uint64)
    seg = np.zeros(words, np.uint64)
    ix = np.empty(a, np.int64)
    iseg = np.empty(s, np.int64)
    st = load(state)
    count = 0
    for i in range(n_samples):
        if i % resample == 0:
            st = random_subset(st, n, s, seg, iseg)
        st = random_subset(st, n, a, x, ix)
        if overlap(x, seg) >= theta:
            count += 1
    return count


@njit(cache=True)
def _false_negative_kernel(state, n, a, s, theta, v, n_samples):
    words = (n + 63) // 64
    x = np.zeros(words, np.uint64)
    seg = np.zeros(words, np.uint64)
    ix = np.empty(a, np.int64)
    orig = np.zeros(words, np.uint64)
    perm = np.empty(a, np.int64)
    st = load(state)
    count = 0
    for _ in range(n_samples):
        st = random_subset(st, n, a, x, ix)
        # the segment: s synapses on a random s-subset of the pattern's active bits
        for w in range(words):
            seg[w] = 0
        perm[:] = ix
        st = partial_shuffle(st, perm, a, s)
        for j in range(s):
            set_bit(seg, perm[j])
        # noise: v random active bits move to v cells that were inactive
        perm[:] = ix
        st = move_bits(st, n, x, perm, a, v, orig)
        if overlap(x, seg) < theta:
            count += 1
    return count


@njit(cache=True)
def _union_kernel(state, n, a, s, theta, m, n_samples, segment_union):
    """segment_union False: input = union of m a-bit patterns, segment = s random synapses.
    segment_union True: segment = union of m random s-subsets, input = one a-bit pattern."""
    words = (n + 63) // 64
    union = np.zeros(words, np.uint64)
    tmp = np.zeros(words, np.uint64)
    other = np.zeros(words, np.uint64)
    k_union = s if segment_union else a
    k_other = a if segment_union else s
    itmp = np.empty(k_union, np.int64)
    iother = np.empty(k_other, np.int64)
    st = load(state)
    count = 0
    for _ in range(n_samples):
        for w in range(words):
            union[w] = 0
        for _j in range(m):
            st = random_subset(st, n, k_union, tmp, itmp)
            for w in range(words):
                union[w] |= tmp[w]
        st = random_subset(st, n, k_other, other, iother)
        if overlap(union, other) >= theta:
            count += 1
    return count


def _samples(n_samples):
    return integer("n_samples", n_samples, low=1)


def _scalars(n, *xs):
    """Scalar ints; n (first) must fit the 32-bit range reduction of the generator."""
    out = [int(x) if np.ndim(x) == 0 else fail("parameters", "scalars", x) for x in (n, *xs)]
    if out[0] >= 2**32:
        fail("n", "n < 2**32 for Monte Carlo", out[0])
    return out


def false_match_rate(n, a, s, theta, n_samples, *, seed=None, backend="numba",
                     resample_every=1024, batch=4096) -> MCResult:
    """Monte-Carlo false-match rate: random inputs of a active bits among n against a
    segment of s random synapses with threshold theta (the segment is redrawn every
    ``resample_every`` samples; by symmetry any segment has the same error)."""
    n, a, s, theta = _scalars(*_validate(n, a, s, theta))
    n_samples = _samples(n_samples)
    choice("backend", backend, ("numba", "numpy"))
    rng = make_rng(seed)
    if backend == "numba":
        resample = integer("resample_every", resample_every, low=1)
        count = _false_match_kernel(seed_state(rng), n, a, s, theta, n_samples, resample)
        return MCResult(int(count), n_samples)
    return MCResult(_false_match_numpy(rng, n, a, s, theta, n_samples, batch), n_samples)


def _false_match_numpy(rng, n, a, s, theta, n_samples, batch):
    """The same estimate in plain NumPy: random subsets by argpartition of uniforms,
    bit-packed with packbits, overlaps by bitwise_count of the AND."""
    count = 0
    done = 0
    while done < n_samples:
        b = min(batch, n_samples - done)
        seg = np.zeros(n, bool)
        seg[rng.choice(n, s, replace=False)] = True
        seg_packed = np.packbits(seg)
        idx = np.argpartition(rng.random((b, n)), a, axis=1)[:, :a]
        x = np.zeros((b, n), bool)
        np.put_along_axis(x, idx, True, axis=1)
        ov = np.bitwise_count(np.packbits(x, axis=1) & seg_packed).sum(axis=1)
        count += int((ov >= theta).sum())
        done += b
    return count


def false_negative_rate(n, a, s, theta, v, n_samples, *, seed=None) -> MCResult:
    """Monte-Carlo rate at which a segment (s synapses on its pattern's a active bits,
    threshold theta) misses its pattern after v active bits moved to random inactive cells."""
    n, a, s, theta, v = _scalars(*_validate(n, a, s, theta, v))
    n_samples = _samples(n_samples)
    count = _false_negative_kernel(seed_state(make_rng(seed)), n, a, s, theta, v, n_samples)
    return MCResult(int(count), n_samples)


def union_false_match_rate(n, a, s, theta, M, n_samples, *, seed=None) -> MCResult:
    """Monte-Carlo false-match rate when the input is the union of M random patterns
    (theory: :func:`biosim.dendrites.theory.union_false_match_probability`)."""
    n, a, s, theta = _scalars(*_validate(n, a, s, theta))
    M = integer("M", M, low=1)
    count = _union_kernel(seed_state(make_rng(seed)), n, a, s, theta, M, _samples(n_samples),
                          False)
    return MCResult(int(count), int(n_samples))


def union_segment_false_match_rate(n, a, s, theta, M, n_samples, *, seed=None) -> MCResult:
    """Monte-Carlo false-match rate of a segment storing M patterns (s synapses from each)
    against random inputs of a active bits (theory:
    :func:`biosim.dendrites.theory.union_segment_false_match_probability`)."""
    n, a, s, theta = _scalars(*_validate(n, a, s, theta))
    M = integer("M", M, low=1)
    count = _union_kernel(seed_state(make_rng(seed)), n, a, s, theta, M, _samples(n_samples),
                          True)
    return MCResult(int(count), int(n_samples))
