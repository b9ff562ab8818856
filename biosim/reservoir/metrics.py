"""Metrics of the what/when experiments: timing error, amplitude versus probability,
adaptation time after a switch, principal angles between readout weight subspaces."""
from __future__ import annotations

import numpy as np

from biosim.core import validation as check
from biosim.core.random import make_rng


def timing_error(output, times, t_stim) -> float:
    """|t_peak - t_stim| in ms, t_peak = time of the output's maximum."""
    return float(abs(times[int(np.argmax(output))] - t_stim))


def amplitude(output, template, mask=None) -> float:
    """Least-squares gain a of ``output ~ a template`` (over ``mask``): 1 when the output
    is the template, p when it is p times the template."""
    m = slice(None) if mask is None else np.asarray(mask, bool)
    b = np.asarray(template)[m]
    return float(np.dot(np.asarray(output)[m], b) / np.dot(b, b))


def probability_fit(probabilities, amplitudes) -> dict[str, float]:
    """Slope, intercept and Pearson r of amplitude versus probability."""
    p = check.array("probabilities", probabilities, ndim=1)
    a = check.array("amplitudes", amplitudes, shape=(p.size,))
    from scipy import stats  # slow to import, and ``import biosim`` loads this module

    fit = stats.linregress(p, a)
    return {"slope": float(fit.slope), "intercept": float(fit.intercept),
            "pearson_r": float(fit.rvalue)}


def adaptation_trials(errors, asymptote=None, level=0.9) -> float:
    """Trials after a switch until ``level`` (90%) of the way from the first post-switch
    error errors[0] to the new ``asymptote`` (default: the mean of the last 5 errors) is
    covered: the first k (0-based, so 0 = already there in the first post-switch trial)
    with errors[k] <= asymptote + (1 - level)(errors[0] - asymptote). NaN if never."""
    e = check.array("errors", errors, ndim=1)
    if e.size == 0:
        check.fail("errors", "at least one trial", "none")
    asym = float(np.mean(e[-5:])) if asymptote is None else check.number("asymptote",
                                                                          asymptote)
    level = check.number("level", level, low=0.0, high=1.0)
    hit = np.nonzero(e <= asym + (1.0 - level) * (e[0] - asym))[0]
    return float(hit[0]) if hit.size else float("nan")


def subspace_angle(A, B) -> float:
    """Smallest principal angle (degrees) between the row spaces of A and B (weight
    vectors as rows); 90 = orthogonal."""
    from scipy.linalg import subspace_angles

    A, B = np.atleast_2d(A), np.atleast_2d(B)
    return float(np.degrees(np.min(subspace_angles(A.T, B.T))))


def shuffled_angle(A, B, n_shuffles=100, seed=None) -> np.ndarray:
    """The same angle with the neuron order of B shuffled (independently per shuffle):
    the baseline of two unrelated weight vectors with the same value distributions."""
    rng = make_rng(seed)
    B = np.atleast_2d(B)
    return np.array([subspace_angle(A, B[:, rng.permutation(B.shape[1])])
                     for _ in range(check.integer("n_shuffles", n_shuffles, low=1))])
