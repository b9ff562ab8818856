"""Projections: weights (dense or CSR) from a pre to a post population, integer delays,
the post input buffer they feed (``target``), and an optional plasticity rule."""
from __future__ import annotations

import functools

import numpy as np
from numba import njit

from biosim.core import validation as check
from biosim.core.connectivity import stable_order


class Weights:
    """Synaptic weights, dense (``W``, shape (n_pre, n_post)) or CSR (rows = pre units).

    CSR keeps ``data``/``indptr``/``indices`` plus a by-post index (``col_ptr``, ``col_syn``)
    for event-driven plasticity. ``pre_of``/``post_of`` give each synapse's units in the
    order of :meth:`flat_values`.
    """

    def __init__(self, n_pre, n_post, W=None, data=None, indptr=None, indices=None):
        self.n_pre, self.n_post = n_pre, n_post
        self.dense = W is not None
        self.W = W
        if self.dense:
            self.pre_of = np.repeat(np.arange(n_pre), n_post)
            self.post_of = np.tile(np.arange(n_post), n_pre)
        else:
            self.data, self.indptr, self.indices = data, indptr, indices
            self.post_of = indices

    # CSR: built on first use (plasticity, export), not for every projection: at 10^8
    # synapses each is 0.8 GB
    @functools.cached_property
    def pre_of(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_pre), np.diff(self.indptr))

    @functools.cached_property
    def col_syn(self) -> np.ndarray:
        return np.argsort(self.indices, kind="stable")

    @functools.cached_property
    def col_ptr(self) -> np.ndarray:
        ptr = np.zeros(self.n_post + 1, np.int64)
        np.cumsum(np.bincount(self.indices, minlength=self.n_post), out=ptr[1:])
        return ptr

    @classmethod
    def from_dense(cls, W, copy=True):
        W = np.array(W, dtype=float, copy=copy, order="C") if copy else W
        return cls(W.shape[0], W.shape[1], W=W)

    @classmethod
    def from_pairs(cls, pre, post, values, n_pre, n_post):
        """CSR from synapse lists (any order; duplicates are kept as separate synapses)."""
        pre, post = np.asarray(pre, np.int64), np.asarray(post, np.int64)
        if _ordered(pre, post):  # as the connectivity generators give them
            order = np.arange(pre.size)
        else:
            by_post = stable_order(post, n_post)  # then by pre, stably: (pre, post) order
            order = by_post[stable_order(pre[by_post], n_pre)]
            pre, post = pre[order], post[order]
        indptr = np.zeros(n_pre + 1, np.int64)
        np.cumsum(np.bincount(pre, minlength=n_pre), out=indptr[1:])
        return cls(n_pre, n_post, data=np.asarray(values, float)[order].copy(),
                   indptr=indptr, indices=post), order

    @property
    def n_synapses(self) -> int:
        return self.W.size if self.dense else self.data.size

    def flat_values(self) -> np.ndarray:
        """The weights as one array (a view), synapse s from ``pre_of[s]`` to ``post_of[s]``."""
        return self.W.reshape(-1) if self.dense else self.data

    def to_dense(self) -> np.ndarray:
        if self.dense:
            return self.W.copy()
        W = np.zeros((self.n_pre, self.n_post))
        np.add.at(W, (self.pre_of, self.indices), self.data)
        return W


@njit(cache=True)
def _ordered(pre, post):
    """Whether the pairs are sorted by pre, then post."""
    for s in range(1, pre.size):
        if pre[s] < pre[s - 1] or (pre[s] == pre[s - 1] and post[s] < post[s - 1]):
            return False
    return True


@njit(cache=True)
def _dense_spikes(W, fired, out):
    for i in range(fired.size):
        if fired[i]:
            out += W[i]


@njit(cache=True)
def _csr_values(data, indptr, indices, x, out):
    for i in range(indptr.size - 1):
        xi = x[i]
        if xi != 0.0:
            for s in range(indptr[i], indptr[i + 1]):
                out[indices[s]] += data[s] * xi


@njit(cache=True)
def _csr_delayed(data, indptr, indices, delay, hist, now, out):
    L = hist.shape[0]
    for i in range(indptr.size - 1):
        for s in range(indptr[i], indptr[i + 1]):
            xi = hist[(now - 1 - delay[s]) % L, i]
            if xi != 0.0:
                out[indices[s]] += data[s] * xi


class Projection:
    """pre -> post synapses. Each step, ``post.inputs[target] += W^T x``, where x is the pre
    activity ``delay`` steps before the previous step (delay 0: the previous step's spikes
    arrive in this step, as in Brian2 with no delay).

    ``delay_steps`` is an int or one int per synapse (CSR). ``rule`` is a plasticity rule
    updated every step from the current pre/post activity. ``source``: the activity kind of
    ``pre`` that is delivered (default its first, ``activity``); a reservoir's recurrent
    projection delivers its ``"spikes"`` while its readouts read its rate. A rule reads
    ``activity``, so a projection with a rule delivers the first kind.
    """

    #: the delivered activity kind; None: the first (``activity``)
    source = None

    def __init__(self, pre, post, weights: Weights, delay_steps=0, target="I", rule=None,
                 name=None, source=None):
        if not isinstance(target, str) or target not in post.inputs:
            check.fail("target", f"an input of population {post.name!r}: "
                                 f"{sorted(post.inputs)}", target)
        self.pre, self.post, self.weights, self.target = pre, post, weights, target
        self.rule = rule
        if source is not None and source != pre.activity_kinds[0]:
            self.source = check.choice("source", source, pre.activity_kinds)
            if rule is not None:
                check.fail("source", f"{pre.activity_kinds[0]!r} (the activity) for a "
                                     "projection with a rule", source)
        self.name = check.name("name", name) or f"{pre.name}->{post.name}"
        self.auto_name = name is None
        d = np.asarray(delay_steps, dtype=np.int64)
        if d.ndim and not d.size == weights.n_synapses:
            check.fail("delay", f"a scalar or one delay per synapse ({weights.n_synapses})",
                       f"shape {d.shape}")
        if d.size and d.min() < 0:
            check.fail("delay", "values >= 0", int(d.min()))
        if d.ndim and np.all(d == d.flat[0]):
            d = d.flat[0].copy() if d.size else np.int64(0)
        if d.ndim and weights.dense:
            raise check.BiosimError("delay: per-synapse delays need sparse weights; "
                                    "pass sparse=True to connect()")
        self.delay = d
        self.max_delay = int(d.max()) if d.size else 0
        check.memory("delay", 8.0 * (self.max_delay + 1) * pre.n,
                     f"a history of {self.max_delay + 1} steps of {pre.n} units", self.max_delay)
        self.history = np.zeros((self.max_delay + 1, pre.n)) if self.max_delay else None

    def __repr__(self):
        kind = "dense" if self.weights.dense else "csr"
        return f"Projection({self.name}, {kind}, {self.weights.n_synapses} synapses)"

    @property
    def W(self) -> np.ndarray:
        """Dense weight matrix (a view for dense projections, a copy for CSR)."""
        return self.weights.W if self.weights.dense else self.weights.to_dense()

    def pre_activity(self) -> np.ndarray:
        """The delivered activity of ``pre`` (its ``source`` kind)."""
        return self.pre.activity if self.source is None else self.pre.activity_of(self.source)

    def deliver(self, now: int) -> None:
        """Add the synaptic input of step ``now`` to the post buffer."""
        out = self.post.inputs[self.target]
        w = self.weights
        if self.history is None:
            x = self.pre_activity()
            if x.dtype == np.bool_ and w.dense:
                _dense_spikes(w.W, x, out)
                return
        elif self.delay.ndim == 0:
            x = self.history[(now - 1 - int(self.delay)) % self.history.shape[0]]
            if self.pre_activity().dtype == np.bool_ and w.dense:
                _dense_spikes(w.W, x != 0.0, out)
                return
        else:
            _csr_delayed(w.data, w.indptr, w.indices, self.delay, self.history, now, out)
            return
        if w.dense:
            out += w.W.T @ np.asarray(x, float)
        elif x.ndim == 1:
            _csr_values(w.data, w.indptr, w.indices, np.asarray(x, float), out)
        else:
            for k in range(x.shape[1]):
                _csr_values(w.data, w.indptr, w.indices, np.ascontiguousarray(x[:, k], float),
                            out[:, k])

    def record(self, now: int) -> None:
        """Remember this step's pre activity for delayed delivery."""
        if self.history is not None:
            self.history[now % self.history.shape[0]] = self.pre_activity()
