"""Willshaw network: binary auto-associative memory of sparse patterns.

Storage is the clipped Hebbian rule W = max(W, x x^T) over the stored patterns (the same rule
as :class:`biosim.core.plasticity.ClippedHebbian`, here on bit-packed rows); retrieval thresholds
the dendritic sum s_j = sum_i c_i W_ij of a cue c, by default at the number of active cue units
(Willshaw, Buneman & Longuet-Higgins 1969).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from biosim.core import validation as v
from biosim.core.estimator import Estimator
from biosim.core import bits as _bits


@njit(cache=True)
def _store(bits, packed):
    for m in range(packed.shape[0]):
        for w0 in range(packed.shape[1]):
            x = packed[m, w0]
            while x != 0:
                i = w0 * 64 + _bits.lowest_bit_index(x)
                x &= x - np.uint64(1)
                for w in range(packed.shape[1]):
                    bits[i, w] |= packed[m, w]


@njit(cache=True)
def _dendritic_sums(bits, packed, n):
    B, nw = packed.shape
    s = np.zeros((B, n), np.int64)
    for q in range(B):
        for w0 in range(nw):
            x = packed[q, w0]
            while x != 0:
                i = w0 * 64 + _bits.lowest_bit_index(x)
                x &= x - np.uint64(1)
                for w in range(nw):
                    y = bits[i, w]
                    while y != 0:
                        s[q, w * 64 + _bits.lowest_bit_index(y)] += 1
                        y &= y - np.uint64(1)
    return s


class WillshawMemory(Estimator):
    """Willshaw auto-associative memory of n binary units.

    Parameters
    ----------
    n : int >= 2
        Number of units.
    threshold : int or None
        Retrieval threshold on the dendritic sum; None uses the number of active cue units.

    Attributes
    ----------
    weights_ : uint64 array (n, ceil(n / 64))
        Bit-packed binary weights (diagonal included: a stored unit connects to itself).
    n_stored_ : int

    ``fit(patterns)`` starts from empty weights, ``store`` adds; ``save``/``load`` as every
    :class:`~biosim.core.estimator.Estimator`.
    """

    def __init__(self, n: int, *, threshold=None):
        self.n = v.integer("n", n, low=2)
        self.threshold = None if threshold is None else v.integer("threshold", threshold, low=1)

    def _patterns(self, x, field):
        a = np.asarray(x)
        if a.dtype != bool:
            if not np.all(np.isin(a, (0, 1))):
                v.fail(field, "binary values (bool or 0/1)", a)
            a = a.astype(bool)
        a = np.atleast_2d(a)
        if a.ndim != 2 or a.shape[1] != self.n:
            v.fail(field, f"shape (M, {self.n})", f"shape {np.shape(x)}")
        return _bits.pack(a, _bits.words(self.n))

    def fit(self, patterns) -> "WillshawMemory":
        """Forget what was stored, then store binary patterns (M, n)."""
        self.__dict__.pop("weights_", None)
        return self.store(patterns)

    def store(self, patterns) -> "WillshawMemory":
        """Store binary patterns (M, n)."""
        packed = self._patterns(patterns, "patterns")
        if not hasattr(self, "weights_"):
            self.weights_ = np.zeros((self.n, packed.shape[1]), np.uint64)
            self.n_stored_ = 0
        _store(self.weights_, packed)
        self.n_stored_ += len(packed)
        return self

    def dense_weights(self) -> np.ndarray:
        """Weights as a dense bool (n, n) matrix."""
        return _bits.unpack(self.weights_, self.n)

    def add_to(self, net, name: str = "willshaw", cue=None):
        """Add this memory to a :class:`~biosim.core.Network`: a
        :class:`~biosim.memory.WillshawRetrieval` population (this memory's threshold)
        holding ``cue`` (bool (n,), or None: silent until cued through its ``cue`` input), and
        the stored weights on a recurrent projection. Each network step is one retrieval
        step. Returns the population."""
        from biosim.memory.population import WillshawRetrieval

        if not hasattr(self, "weights_"):
            v.fail("WillshawMemory", "patterns stored before add_to (call store)")
        pop = net.add(WillshawRetrieval(self.n, cue, self.threshold, name=name))
        net.connect(pop, pop, weight=self.dense_weights().astype(float), name=f"{name}.W")
        return pop

    def density(self) -> float:
        """Fraction of off-diagonal weights set."""
        W = self.dense_weights()
        return (W.sum() - np.trace(W)) / (self.n * (self.n - 1))

    def dendritic_sums(self, cue) -> np.ndarray:
        """s_j = sum_i cue_i W_ij for bool cues (B, n); int64 (B, n)."""
        if not hasattr(self, "weights_"):
            v.fail("WillshawMemory", "patterns stored before retrieval (call store)")
        return _dendritic_sums(self.weights_, self._patterns(cue, "cue"), self.n)

    def retrieve(self, cue) -> np.ndarray:
        """Bool output (B, n): units whose dendritic sum reaches the threshold."""
        s = self.dendritic_sums(cue)
        theta = (np.atleast_2d(np.asarray(cue, bool)).sum(axis=1, keepdims=True)
                 if self.threshold is None else self.threshold)
        return s >= np.maximum(theta, 1)
