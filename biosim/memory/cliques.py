"""Gripon-Berrou clustered-clique associative memory on bit-packed binary weights.

n = c l binary neurons in c clusters of l. A message is one neuron per cluster (an integer
vector of length c, values in [0, l)); storing it sets the binary symmetric connections of its
clique (no connection inside a cluster), i.e. the clipped Hebbian rule W = max(W, x x^T)
without the diagonal (Gripon & Berrou 2011).

Retrieval from a cue (erased clusters have no active neuron; insertions add active neurons):
each neuron j gets a score, then winner-take-all keeps in every cluster the neurons with the
highest score (ties keep all winners), for a set number of iterations or until stable.

- sum-of-sum (``"sos"``): s_j = sum_i W_ij v_i + gamma v_j
- sum-of-max (``"som"``): s_j = #{clusters a != cluster(j): some active i in a has W_ij = 1}
  + gamma v_j

Weights are stored as rows of uint64 words; each cluster takes ceil(l / 64) words, so cluster b
of row i lies in words [b W, (b + 1) W). Scores are summed in bit-sliced counters (one bit plane
per binary digit) and the per-cluster maximum is read off the planes from the top digit down,
which yields the winner set directly as bits.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from biosim.core import validation as v
from biosim.core.estimator import Estimator
from biosim.core import bits as _bits

RULES = ("sos", "som")


# ----------------------------------------------------------------------------- kernels
@njit(cache=True)
def _store(bits, messages, l, W):
    c = messages.shape[1]
    one = np.uint64(1)
    for m in range(messages.shape[0]):
        for a in range(c):
            i = a * l + messages[m, a]
            for b in range(c):
                if b != a:
                    j = messages[m, b]
                    bits[i, b * W + (j >> 6)] |= one << np.uint64(j & 63)


@njit(cache=True)
def _add_row(planes, K, row, carry):
    """planes[:K] += row (a 1-bit number per bit position); the sum must fit in K bits.
    Fixed-depth ripple carry, word loop innermost so that it vectorises."""
    nw = row.shape[0]
    for w in range(nw):
        carry[w] = row[w]
    for k in range(K):
        for w in range(nw):
            p = planes[k, w]
            planes[k, w] = p ^ carry[w]
            carry[w] = p & carry[w]


@njit(cache=True)
def _block_max(planes, K, start, W, cand):
    """Largest count among the bits set in cand (words [start, start + W) of the planes);
    narrows cand to the bits that reach it. Returns -1 when cand is empty."""
    empty = True
    for w in range(W):
        if cand[w] != 0:
            empty = False
    if empty:
        return -1
    val = 0
    for k in range(K - 1, -1, -1):
        hit = False
        for w in range(W):
            if cand[w] & planes[k, start + w]:
                hit = True
                break
        if hit:
            for w in range(W):
                cand[w] &= planes[k, start + w]
            val += 1 << k
    return val


@njit(cache=True)
def _retrieve(bits, act, valid, c, l, W, gamma, iterations, som):
    """Iterate score + winner-take-all on each packed activity row of act (in place).
    Returns the number of iterations each row ran before it was stable (<= iterations)."""
    B, nw = act.shape
    used = np.zeros(B, np.int64)
    planes = np.zeros((64, nw), np.uint64)
    reach = np.zeros(nw, np.uint64)
    carry = np.zeros(nw, np.uint64)
    new = np.zeros(nw, np.uint64)
    cand_a = np.zeros(W, np.uint64)
    cand_i = np.zeros(W, np.uint64)
    for q in range(B):
        cur = act[q]
        for it in range(iterations):
            n_active = 0
            for w in range(nw):
                x = cur[w]
                while x != 0:
                    x &= x - np.uint64(1)
                    n_active += 1
            top = c if som else n_active
            K = 1
            while (1 << K) <= top:
                K += 1
            planes[:K, :] = 0
            for a in range(c):
                if som:
                    reach[:] = 0
                    any_active = False
                for w in range(a * W, (a + 1) * W):
                    x = cur[w]
                    while x != 0:
                        i = a * l + (w - a * W) * 64 + _bits.lowest_bit_index(x)
                        x &= x - np.uint64(1)
                        if som:
                            any_active = True
                            for u in range(nw):
                                reach[u] |= bits[i, u]
                        else:
                            _add_row(planes, K, bits[i], carry)
                if som and any_active:
                    _add_row(planes, K, reach, carry)
            changed = False
            for b in range(c):
                s = b * W
                for w in range(W):
                    cand_a[w] = cur[s + w]
                    cand_i[w] = valid[s + w] & ~cur[s + w]
                va = _block_max(planes, K, s, W, cand_a)
                vi = _block_max(planes, K, s, W, cand_i)
                sa = va + gamma if va >= 0 else -1.0
                si = float(vi)
                best = max(sa, si)
                for w in range(W):
                    x = np.uint64(0)
                    if va >= 0 and sa == best:
                        x |= cand_a[w]
                    if vi >= 0 and si == best:
                        x |= cand_i[w]
                    new[s + w] = x
                    if x != cur[s + w]:
                        changed = True
            used[q] = it + 1
            if not changed:
                break
            cur[:] = new
    return used


# ----------------------------------------------------------------------------- model
def check_messages(messages, c, l, *, field="messages", allow_erased=False) -> np.ndarray:
    """Validate an integer array of shape (M, c) (or (c,)) with values in [0, l)
    (-1 for an erased cluster when allow_erased). Returns an int64 array of shape (M, c)."""
    a = np.asarray(messages)
    if a.dtype.kind not in "iu":
        if a.dtype.kind == "f" and a.size and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        elif a.size:
            v.fail(field, "an integer array", f"dtype {a.dtype}")
    a = np.atleast_2d(a).astype(np.int64, copy=False)
    if a.ndim != 2 or a.shape[1] != c:
        v.fail(field, f"shape (M, {c}): one neuron index per cluster",
               f"shape {np.shape(messages)}")
    low = -1 if allow_erased else 0
    bad = np.argwhere((a < low) | (a >= l))
    if bad.size:
        m, k = bad[0]
        rng = f"[-1, {l - 1}] (-1 = erased)" if allow_erased else f"[0, {l - 1}]"
        v.fail(f"{field}[{m}, {k}]", f"a neuron index in cluster range {rng}", int(a[m, k]))
    return np.ascontiguousarray(a)


class CliqueNetwork(Estimator):
    """Clustered-clique memory of c clusters of l binary neurons (Gripon & Berrou 2011).

    Parameters
    ----------
    c, l : int >= 2
        Number of clusters and neurons per cluster (n = c l neurons).
    rule : "sos" or "som"
        Sum-of-sum or sum-of-max scores.
    gamma : float >= 0
        Memory term: weight of a neuron's own activity in its score.
    iterations : int >= 1
        Largest number of score + winner-take-all iterations (stops earlier when stable).

    Attributes
    ----------
    weights_ : uint64 array (c l, c ceil(l / 64))
        Bit-packed binary weights (row i = connections of neuron i); allocated on first use.
    n_stored_ : int
        Messages stored so far (repeats included).

    ``fit(messages)`` starts from empty weights, ``store`` adds; ``save``/``load`` as every
    :class:`~biosim.core.estimator.Estimator`.
    """

    def __init__(self, c: int, l: int, *, rule: str = "sos", gamma: float = 1.0,
                 iterations: int = 4):
        self.c = v.integer("c", c, low=2)
        self.l = v.integer("l", l, low=2)
        self.rule = v.choice("rule", rule, RULES)
        self.gamma = v.nonnegative("gamma", gamma)
        self.iterations = v.integer("iterations", iterations, low=1)

    # -- storage
    @property
    def n(self) -> int:
        return self.c * self.l

    @property
    def _W(self) -> int:
        return _bits.words(self.l)

    def _ensure(self):
        if not hasattr(self, "weights_"):
            self.weights_ = np.zeros((self.n, self.c * self._W), np.uint64)
            self.n_stored_ = 0

    def fit(self, messages) -> "CliqueNetwork":
        """Forget what was stored, then store messages (M, c)."""
        self.__dict__.pop("weights_", None)
        return self.store(messages)

    def store(self, messages) -> "CliqueNetwork":
        """Store messages, an integer array (M, c) of neuron indices in [0, l)."""
        m = check_messages(messages, self.c, self.l)
        self._ensure()
        _store(self.weights_, m, self.l, self._W)
        self.n_stored_ += len(m)
        return self

    def set_dense_weights(self, W) -> "CliqueNetwork":
        """Replace the weights by a dense binary symmetric (n, n) matrix without intra-cluster
        connections (e.g. connections learned by :class:`biosim.memory.CoyacLearner`)."""
        W = v.array("W", W, shape=(self.n, self.n), dtype=float)
        Wb = W != 0
        if not np.array_equal(Wb, Wb.T) or np.any(W[Wb] != 1):
            v.fail("W", "a symmetric matrix of 0/1 values")
        blocks = Wb.reshape(self.c, self.l, self.c, self.l)
        if any(blocks[a, :, a, :].any() for a in range(self.c)):
            v.fail("W", "no connection inside a cluster")
        self.weights_ = _bits.pack(Wb.reshape(self.n, self.c, self.l), self._W).reshape(self.n, -1)
        self.n_stored_ = 0
        return self

    def dense_weights(self) -> np.ndarray:
        """Weights as a dense bool (n, n) matrix."""
        self._ensure()
        rows = self.weights_.reshape(self.n, self.c, self._W)
        return _bits.unpack(rows, self.l).reshape(self.n, self.n)

    def add_to(self, net, name: str = "clique", cue=None):
        """Add this memory to a :class:`~biosim.core.Network`: a
        :class:`~biosim.memory.ClusterWTA` population (this memory's ``gamma``; sum-of-sum
        scores) holding ``cue`` (messages (c,) with -1 for erased clusters, or None: silent
        until cued through its ``cue`` input), and the stored weights on a recurrent
        projection. Each network step is one retrieval iteration. Returns the population."""
        from biosim.memory.population import ClusterWTA

        if self.rule != "sos":
            v.fail("rule", "'sos' for a network population (sum-of-max runs in retrieve)",
                   self.rule)
        pop = net.add(ClusterWTA(self.c, self.l, cue, gamma=self.gamma, name=name))
        net.connect(pop, pop, weight=self.dense_weights().astype(float), name=f"{name}.W")
        return pop

    def density(self) -> float:
        """Fraction of the c (c - 1) l^2 possible (directed) inter-cluster connections set."""
        self._ensure()
        ones = int(np.unpackbits(self.weights_.view(np.uint8)).sum())
        return ones / (self.c * (self.c - 1) * self.l**2)

    # -- retrieval
    def cue_activity(self, cue) -> np.ndarray:
        """A cue as bool activity (B, c, l): either messages (B, c) with -1 for erased clusters
        or an activity array (B, c, l) / (B, n) (insertions allowed)."""
        a = np.asarray(cue)
        if a.dtype == bool:
            if a.ndim == 1:
                a = a[None]
            if a.ndim == 2 and a.shape[1] == self.n:
                a = a.reshape(-1, self.c, self.l)
            if a.ndim != 3 or a.shape[1:] != (self.c, self.l):
                v.fail("cue", f"bool activity of shape (B, {self.c}, {self.l}) or (B, {self.n})",
                       f"shape {a.shape}")
            return a
        m = check_messages(a, self.c, self.l, field="cue", allow_erased=True)
        act = np.zeros((len(m), self.c, self.l), bool)
        b, k = np.nonzero(m >= 0)
        act[b, k, m[b, k]] = True
        return act

    def retrieve(self, cue, *, iterations=None, rule=None, gamma=None,
                 return_iterations=False):
        """Retrieve from cues; returns bool activity (B, c, l) after winner-take-all.

        ``iterations``, ``rule`` and ``gamma`` override the constructor values for this call.
        With ``return_iterations`` also returns the iterations each cue ran (int array (B,)).
        """
        it = self.iterations if iterations is None else v.integer("iterations", iterations, low=1)
        rule = self.rule if rule is None else v.choice("rule", rule, RULES)
        gamma = self.gamma if gamma is None else v.nonnegative("gamma", gamma)
        self._ensure()
        act = self.cue_activity(cue)
        packed = _bits.pack(act, self._W).reshape(len(act), -1)
        valid = _bits.pack(np.ones((self.c, self.l), bool), self._W).reshape(-1)
        used = _retrieve(self.weights_, packed, valid, self.c, self.l, self._W, float(gamma),
                         it, rule == "som")
        out = _bits.unpack(packed.reshape(len(act), self.c, self._W), self.l)
        return (out, used) if return_iterations else out

    def complete(self, cue, **kwargs) -> np.ndarray:
        """Retrieve and decode: messages (B, c), -1 where a cluster has not exactly one winner."""
        return decode(self.retrieve(cue, **kwargs))

    def error_rate(self, messages, cue, **kwargs) -> float:
        """Fraction of cues whose retrieval is not exactly the message (ambiguity = error)."""
        m = check_messages(messages, self.c, self.l)
        return float(np.mean(np.any(self.complete(cue, **kwargs) != m, axis=1)))


def decode(activity) -> np.ndarray:
    """Bool activity (B, c, l) -> messages (B, c); -1 where a cluster has 0 or >= 2 winners."""
    act = np.asarray(activity, bool)
    out = np.argmax(act, axis=-1).astype(np.int64)
    out[act.sum(axis=-1) != 1] = -1
    return out
