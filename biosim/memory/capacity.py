"""Capacity curves: retrieval error against the number of stored messages, measured and in
closed form (tables for the notebook, the benchmark and :mod:`biosim.plot.memory`)."""
from __future__ import annotations

import numpy as np

from biosim.core import validation as v
from biosim.core.random import make_rng
from biosim.memory import noise, theory
from biosim.memory.cliques import CliqueNetwork
from biosim.memory.hopfield import HopfieldNetwork


def clique_capacity_curve(Ms, c=8, l=256, n_erased=4, n_trials=2000, iterations=4,
                          gamma=1.0, seed=None) -> dict:
    """Store the first M of one stream of random messages for each M in Ms (increasing) and
    retrieve n_trials stored messages with n_erased clusters erased.

    Returns a dict of arrays keyed ``M``, ``density``, ``density_theory``, ``error_1``
    (one iteration), ``error_1_theory``, ``error_sos`` and ``error_som`` (``iterations``)."""
    Ms = np.asarray(v.array("Ms", Ms, ndim=1, low=1), dtype=np.int64)
    n_trials = v.integer("n_trials", n_trials, low=1)
    rng = make_rng(seed)
    msgs = noise.random_messages(int(Ms.max()), c, l, rng)
    out = {k: [] for k in ("density", "error_1", "error_sos", "error_som")}
    for M in Ms:
        net = CliqueNetwork(c, l, gamma=gamma, iterations=iterations).store(msgs[:M])
        truth = msgs[rng.integers(0, M, n_trials)]
        cues = noise.erase_clusters(truth, n_erased, rng)
        out["density"].append(net.density())
        out["error_1"].append(net.error_rate(truth, cues, iterations=1, rule="sos"))
        out["error_sos"].append(net.error_rate(truth, cues, rule="sos"))
        out["error_som"].append(net.error_rate(truth, cues, rule="som"))
    res = {"M": Ms, **{k: np.asarray(val) for k, val in out.items()}}
    res["density_theory"] = theory.clique_density(Ms, c, l)
    res["error_1_theory"] = theory.one_iteration_error(Ms, c, l, n_erased)
    return res


def hopfield_capacity_curve(Ps, n=2048, erased_fraction=0.5, n_trials=200, seed=None) -> dict:
    """Hopfield network of n neurons storing P random +-1 patterns for each P in Ps; cues are
    stored patterns with a fraction of the units set to 0 (unknown). Returns ``P`` and
    ``error`` (fraction of cues not retrieved exactly)."""
    Ps = np.asarray(v.array("Ps", Ps, ndim=1, low=1), dtype=np.int64)
    erased_fraction = v.probability("erased_fraction", erased_fraction)
    rng = make_rng(seed)
    X = rng.choice([-1.0, 1.0], (int(Ps.max()), n))
    err = []
    for P in Ps:
        idx = rng.integers(0, P, n_trials)
        cue = X[idx].copy()
        cue[rng.random(cue.shape) < erased_fraction] = 0.0
        out = HopfieldNetwork(n).store(X[:P]).retrieve(cue)
        err.append(np.mean(np.any(out != X[idx], axis=1)))
    return {"P": Ps, "error": np.asarray(err)}


def largest_below(x, error, target) -> float:
    """Largest x (sorted increasing) whose error is <= target, linearly interpolated to the
    first crossing; nan when even the first error is above target."""
    x = np.asarray(x, float)
    e = np.asarray(error, float)
    above = np.flatnonzero(e > target)
    if len(above) == 0:
        return float(x[-1])
    k = above[0]
    if k == 0:
        return float("nan")
    return float(x[k - 1] + (target - e[k - 1]) * (x[k] - x[k - 1]) / (e[k] - e[k - 1]))
