"""Seeded noise channels for binary associative memories.

Coyac et al. (2017) model the noise reaching a neuron as synaptic noise plus interference from
neurons outside the network; once the neuron's input is thresholded, this reduces to
*insertions* (a neuron that should be silent fires) and *erasures* (one that should fire does
not). These channels produce both, on messages (integer arrays (M, c)) or on bool activity.
"""
from __future__ import annotations

import numpy as np

from biosim.core import validation as v
from biosim.core.random import make_rng


def random_messages(M, c, l, seed=None) -> np.ndarray:
    """M uniform random messages: an int64 array (M, c) of neuron indices in [0, l)."""
    M = v.integer("M", M, low=0)
    c = v.integer("c", c, low=2)
    l = v.integer("l", l, low=2)
    return make_rng(seed).integers(0, l, size=(M, c), dtype=np.int64)


def erase_clusters(messages, n_erased, seed=None) -> np.ndarray:
    """Copy of messages (M, c) with exactly n_erased clusters per message, chosen uniformly,
    set to -1 (unknown)."""
    m = np.array(messages, dtype=np.int64, ndmin=2, copy=True)
    c = m.shape[1]
    n_erased = v.integer("n_erased", n_erased, low=0, high=c)
    order = np.argsort(make_rng(seed).random(m.shape), axis=1)[:, :n_erased]
    np.put_along_axis(m, order, -1, axis=1)
    return m


def to_activity(messages, l) -> np.ndarray:
    """Messages (M, c) (-1 = erased) as bool activity (M, c, l)."""
    m = np.asarray(messages, dtype=np.int64)
    l = v.integer("l", l, low=2)
    if m.ndim != 2 or m.min(initial=0) < -1 or m.max(initial=0) >= l:
        v.fail("messages", f"an integer array (M, c) with values in [-1, {l - 1}]", m)
    act = np.zeros(m.shape + (l,), bool)
    b, k = np.nonzero(m >= 0)
    act[b, k, m[b, k]] = True
    return act


def flip(activity, p_insert=0.0, p_erase=0.0, seed=None) -> np.ndarray:
    """Insertions and erasures on bool activity: every silent unit turns on with probability
    p_insert, every active unit turns off with probability p_erase (independently)."""
    a = np.asarray(activity, dtype=bool)
    p_insert = v.probability("p_insert", p_insert)
    p_erase = v.probability("p_erase", p_erase)
    u = make_rng(seed).random(a.shape)
    return np.where(a, u >= p_erase, u < p_insert)


def insert_per_cluster(activity, n_insert, seed=None) -> np.ndarray:
    """Turn on n_insert silent neurons, chosen uniformly, in every cluster of activity (M, c, l)
    (all silent ones where fewer remain)."""
    a = np.array(activity, dtype=bool, copy=True)
    if a.ndim != 3:
        v.fail("activity", "a bool array (M, c, l)", f"shape {a.shape}")
    n_insert = v.integer("n_insert", n_insert, low=0, high=a.shape[2])
    keys = make_rng(seed).random(a.shape) + a  # silent units sort first
    picks = np.argsort(keys, axis=2)[:, :, :n_insert]
    np.put_along_axis(a, picks, True, axis=2)
    return a


def synaptic_noise(activity, sigma, threshold=0.5, seed=None) -> np.ndarray:
    """Thresholded Gaussian noise (Coyac et al. 2017): unit i is active when
    x_i + N(0, sigma^2) >= threshold, x_i in {0, 1}. The insertion and erasure probabilities
    are :func:`biosim.memory.theory.quantized_noise_rates`."""
    a = np.asarray(activity, dtype=bool)
    sigma = v.positive("sigma", sigma)
    threshold = v.number("threshold", threshold, low=0.0, high=1.0, low_open=True,
                         high_open=True)
    return a + make_rng(seed).normal(0.0, sigma, a.shape) >= threshold
