"""The learning process of Coyac, Gripon, Langlais & Berrou (2017): a recurrent network of c
clusters of l binary neurons with modifiable connections receives a stream of noisy inputs
(insertions and erasures). Each input is processed on its own (incremental processing):

1. **Response.** Every neuron gets a score
   ``input_gain * x_j + (number of other clusters holding an input-active neuron with a
   permanent connection to j)`` (sum-of-max over the permanent connections). Neurons scoring at
   least ``min_score`` are candidates.
2. **Energy limit on active neurons.** At most ``max_active`` candidates per cluster fire: the
   highest scores, ties broken at random (seeded).
3. **Energy limit on strengthened connections.** Co-active neurons of different clusters
   strengthen their connection; when that would exceed ``max_strengthened`` connections, the
   active neuron with the lowest score (random among ties) is silenced, until within budget.
4. **Consolidated Hebbian learning.** Each connection has a transient strength h updated by
   the core :class:`biosim.core.plasticity.Hebbian` rule with ``eta = 1`` and
   ``decay = leak``: h <- h + r r^T - leak h, with r the response. A connection whose h reaches
   ``consolidation_threshold`` becomes permanent and binary (it is never forgotten); only
   permanent connections take part in the response. Co-activations that do not repeat (most
   insertions) leak away; repeated ones (the messages) are consolidated.

All choices above are parameters; the defaults are the ones used in the tests. The permanent
connections are compared with the clique memory of the clean messages
(:func:`connection_overlap`) and can be used for retrieval with :meth:`to_network`.
"""
from __future__ import annotations

import numpy as np

from biosim.core import validation as v
from biosim.core.estimator import Estimator
from biosim.core.plasticity import Hebbian
from biosim.core.random import make_rng
from biosim.memory.cliques import CliqueNetwork


class CoyacLearner(Estimator):
    """Incremental Hebbian network that forms a clique memory from noisy inputs.

    Parameters
    ----------
    c, l : int >= 2
        Clusters and neurons per cluster.
    max_active : int >= 1
        Energy limit: most neurons firing per cluster per input.
    max_strengthened : int or None
        Energy limit: most connections strengthened per input (None: only the bound implied by
        ``max_active``, i.e. max_active^2 c (c - 1) / 2).
    input_gain : float > 0
        Score of an external input, in units of one supporting cluster.
    min_score : float > 0
        Lowest score at which a neuron may fire. With the defaults (input_gain = min_score
        = 3) an input always makes a neuron a candidate, and a neuron without input (an erased
        cluster) needs permanent connections from 3 active clusters to fire.
    leak : float in [0, 1)
        Fraction of each transient strength lost per input.
    consolidation_threshold : float > 0
        Transient strength at which a connection becomes permanent.
    seed : int, SeedSequence, Generator or None
        Tie-breaking.

    Attributes
    ----------
    connections_ : bool (n, n)
        Permanent binary symmetric connections (no intra-cluster ones).
    strengths_ : float (n, n)
        Transient strengths h (entries inside a cluster, diagonal included, are not
        connections: they are never consolidated and nothing reads them).
    history_ : dict of int arrays, one entry per input (read-only property)
        ``"max_active"`` (most neurons firing in one cluster), ``"strengthened"``
        (connections strengthened) and ``"connections"`` (permanent connections, undirected).

    The seed is resolved by :meth:`fit` (or the first :meth:`partial_fit`). ``save``/``load`` (as every
    :class:`~biosim.core.estimator.Estimator`) keep the tie-breaking stream, so a loaded
    learner continues exactly.
    """

    def __init__(self, c: int, l: int, *, max_active: int = 1, max_strengthened=None,
                 input_gain: float = 3.0, min_score: float = 3.0, leak: float = 0.002,
                 consolidation_threshold: float = 3.0, seed=None):
        self.c = v.integer("c", c, low=2)
        self.l = v.integer("l", l, low=2)
        self.max_active = v.integer("max_active", max_active, low=1, high=self.l)
        self.max_strengthened = (None if max_strengthened is None
                                 else v.integer("max_strengthened", max_strengthened, low=0))
        self.input_gain = v.positive("input_gain", input_gain)
        self.min_score = v.positive("min_score", min_score)
        self.leak = v.number("leak", leak, low=0.0, high=1.0, high_open=True)
        self.consolidation_threshold = v.positive("consolidation_threshold",
                                                  consolidation_threshold)
        self.seed = seed

    @property
    def n(self) -> int:
        return self.c * self.l

    def _ensure(self):
        if not hasattr(self, "connections_"):
            self.connections_ = np.zeros((self.n, self.n), bool)
            self.strengths_ = np.zeros((self.n, self.n))
            self._history = {"max_active": [], "strengthened": [], "connections": []}
            self._rng = make_rng(self.seed)
            self._hebb = Hebbian(eta=1.0, decay=self.leak)
            cluster = np.repeat(np.arange(self.c), self.l)
            self._inter = cluster[:, None] != cluster[None, :]

    def response(self, x) -> np.ndarray:
        """The network's bool response (c, l) to one input x (c, l), energy limits applied."""
        self._ensure()
        x = np.asarray(x, bool)
        if x.shape != (self.c, self.l):
            v.fail("input", f"bool activity of shape ({self.c}, {self.l})", f"shape {x.shape}")
        C = self.connections_.reshape(self.n, self.c, self.l)
        support = np.zeros((self.c, self.l))
        for a in np.flatnonzero(x.any(axis=1)):
            support += C[a * self.l + np.flatnonzero(x[a])].any(axis=0)
        score = self.input_gain * x + support
        # rank 0 = lowest score; equal scores are ordered at random
        flat = np.lexsort((self._rng.random(self.n), score.ravel()))
        rank = np.empty(self.n, np.int64)
        rank[flat] = np.arange(self.n)
        rank = rank.reshape(self.c, self.l)
        r = np.zeros((self.c, self.l), bool)
        for a in range(self.c):
            top = np.argsort(-rank[a])[: self.max_active]
            r[a, top[score[a, top] >= self.min_score]] = True
        if self.max_strengthened is not None:
            while _pairs(r) > self.max_strengthened:
                r.flat[np.argmin(np.where(r, rank, self.n))] = False
        return r

    def partial_fit(self, x) -> np.ndarray:
        """Process one noisy input x (bool (c, l)); returns the response."""
        r = self.response(x)
        rf = r.reshape(-1).astype(float)
        self._hebb.apply(self.strengths_, rf, rf)
        new = (self.strengths_ >= self.consolidation_threshold) & self._inter
        self.connections_ |= new
        h = self._history
        h["max_active"].append(int(r.sum(axis=1).max()))
        h["strengthened"].append(_pairs(r))
        h["connections"].append(int(self.connections_.sum()) // 2)
        return r

    def fit(self, inputs) -> "CoyacLearner":
        """Start from no connections (the seed resolved anew) and process a stream of noisy
        inputs (T, c, l) in order; :meth:`partial_fit` continues from the current state."""
        a = np.asarray(inputs, bool)
        if a.ndim != 3 or a.shape[1:] != (self.c, self.l):
            v.fail("inputs", f"bool activity of shape (T, {self.c}, {self.l})",
                   f"shape {a.shape}")
        self.__dict__.pop("connections_", None)
        for x in a:
            self.partial_fit(x)
        return self

    @property
    def history_(self) -> dict:
        """Per-input records (see the class docstring) as int arrays."""
        self._ensure()
        return {k: np.asarray(val, dtype=np.int64) for k, val in self._history.items()}

    def to_network(self, **kwargs) -> CliqueNetwork:
        """A :class:`CliqueNetwork` holding the permanent connections (kwargs: rule, gamma,
        iterations)."""
        self._ensure()
        return CliqueNetwork(self.c, self.l, **kwargs).set_dense_weights(self.connections_)


def _pairs(r) -> int:
    """Connections between co-active neurons of different clusters."""
    k = r.sum(axis=1)
    return int((k.sum() ** 2 - (k**2).sum()) // 2)


def connection_overlap(learned, reference) -> dict:
    """Compare two bool connection matrices: Jaccard overlap |A & B| / |A | B|, precision
    |A & B| / |A| and recall |A & B| / |B| (A learned, B reference)."""
    A = np.asarray(learned, bool)
    B = np.asarray(reference, bool)
    if A.shape != B.shape:
        v.fail("learned", f"shape {B.shape} like the reference", f"shape {A.shape}")
    both = np.sum(A & B)
    return {"jaccard": both / max(np.sum(A | B), 1), "precision": both / max(A.sum(), 1),
            "recall": both / max(B.sum(), 1)}
