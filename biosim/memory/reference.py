"""Straightforward NumPy twins of the clique-memory kernels (dense bool weights, one cue at a
time). Tests compare the numba kernels against them; the benchmark times them as the peer."""
from __future__ import annotations

import numpy as np


def store_dense(W, messages, l):
    """Set the clique of each message in the dense bool (c l, c l) matrix W (in place)."""
    c = messages.shape[1]
    offsets = np.arange(c) * l
    for m in messages:
        idx = offsets + m
        W[np.ix_(idx, idx)] = True
        W[idx, idx] = False
    return W


def retrieve_dense(W, activity, c, l, gamma=1.0, iterations=4, rule="sos"):
    """Score + winner-take-all per cluster (ties kept) on each cue of bool activity (B, c l),
    until stable or for ``iterations`` iterations. W is a dense 0/1 matrix of any dtype
    (float32 is the fastest for NumPy). Returns the final bool activity."""
    out = np.array(activity, bool, copy=True)
    for q in range(len(out)):
        v = out[q]
        for _ in range(iterations):
            active = np.flatnonzero(v)
            if rule == "sos":
                s = W[active].sum(axis=0, dtype=np.float64)
            else:
                s = np.zeros(c * l)
                for a in np.unique(active // l):
                    s += W[active[active // l == a]].max(axis=0)
            s += gamma * v
            s = s.reshape(c, l)
            new = (s == s.max(axis=1, keepdims=True)).reshape(-1)
            if np.array_equal(new, v):
                break
            v = new
        out[q] = v
    return out
