"""Hopfield network baseline (Hebbian outer-product weights, +-1 units), to compare storage
with the binary memories: about 0.138 n random patterns for n neurons (Amit, Gutfreund &
Sompolinsky 1985)."""
from __future__ import annotations

import numpy as np

from biosim.core import validation as v
from biosim.core.estimator import Estimator


class HopfieldNetwork(Estimator):
    """Hopfield network of n +-1 neurons, W = (1/n) sum_mu xi^mu xi^mu^T with zero diagonal.

    The weights are kept implicitly as the stored patterns ``patterns_`` (P, n): W s is
    computed as X^T (X s) / n - (P / n) s, which costs O(P n) per cue instead of O(n^2).

    Parameters
    ----------
    n : int >= 2
    iterations : int >= 1
        Largest number of synchronous updates s <- sign(W s) (stops when stable; a zero field
        keeps the unit's state, and a unit still at 0 becomes +1).
    """

    def __init__(self, n: int, *, iterations: int = 20):
        self.n = v.integer("n", n, low=2)
        self.iterations = v.integer("iterations", iterations, low=1)

    def fit(self, patterns) -> "HopfieldNetwork":
        """Forget what was stored, then store +-1 patterns (P, n)."""
        self.__dict__.pop("patterns_", None)
        return self.store(patterns)

    def store(self, patterns) -> "HopfieldNetwork":
        """Store +-1 patterns (P, n)."""
        x = np.atleast_2d(v.array("patterns", patterns, dtype=float))
        if x.ndim != 2 or x.shape[1] != self.n or not np.all(np.abs(x) == 1):
            v.fail("patterns", f"+-1 values of shape (P, {self.n})", f"shape {x.shape}")
        old = getattr(self, "patterns_", np.zeros((0, self.n)))
        self.patterns_ = np.concatenate([old, x])
        return self

    def field(self, s) -> np.ndarray:
        """Local fields W s for states s (B, n)."""
        X = self.patterns_
        return (s @ X.T) @ X / self.n - (len(X) / self.n) * s

    def retrieve(self, cue) -> np.ndarray:
        """Synchronous updates from cues (B, n) with values in {-1, 0, +1} (0 = unknown)."""
        s = np.atleast_2d(v.array("cue", cue, dtype=float)).copy()
        if s.shape[1] != self.n or not np.all(np.isin(s, (-1.0, 0.0, 1.0))):
            v.fail("cue", f"values in {{-1, 0, 1}} of shape (B, {self.n})", f"shape {s.shape}")
        for _ in range(self.iterations):
            h = self.field(s)
            new = np.where(h > 0, 1.0, np.where(h < 0, -1.0, np.where(s == 0, 1.0, s)))
            if np.array_equal(new, s):
                break
            s = new
        return s
