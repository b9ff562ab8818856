"""Exact error probabilities of dendritic pattern detectors (Ahmad & Hawkins 2016).

An input population has n cells, a of them active (an SDR). A dendritic segment holds s
synapses sampled from one pattern and fires an NMDA spike when at least theta of them are
active. Every probability here is a hypergeometric tail, evaluated in log space from log
binomial coefficients written so that rounding errors scale with the size of the result,
not with n: relative error ~1e-12 even at n = 10^6 and for probabilities far below the
float range (ask for ``log=True``). Every function broadcasts over NumPy arrays of its
arguments, so a whole parameter grid is one call; scalars in give a float out.

``*_exact`` twins compute the same numbers as exact :class:`fractions.Fraction` from Python
integers (slow; the reference that tests compare against).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy.special import gammaln, logsumexp

from biosim.core.validation import fail

__all__ = [
    "log_binom", "hypergeom_tail", "false_match_probability", "false_negative_probability",
    "expected_union_size", "union_size_log_pmf", "union_false_match_probability",
    "union_segment_false_match_probability", "detection_error", "optimal_threshold",
    "hypergeom_tail_exact", "false_match_probability_exact",
    "false_negative_probability_exact", "union_size_pmf_exact",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _stirling_error(m):
    """log(m!) - [m log m - m + log(2 pi m) / 2] for m >= 1 (Loader 2000), as float array."""
    m = np.asarray(m, dtype=float)
    out = np.empty_like(m)
    small = m < 16
    ms = m[small]
    out[small] = gammaln(ms + 1.0) - (ms * np.log(ms) - ms + 0.5 * np.log(ms) + _HALF_LOG_2PI)
    mb = m[~small]
    r2 = 1.0 / (mb * mb)
    out[~small] = (1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680
                   - r2 / 1188)))) / mb
    return out


def log_binom(N, k):
    """Natural log of the binomial coefficient C(N, k), elementwise; -inf outside 0 <= k <= N.

    Written as k log(N/k) + (N-k) log1p(k/(N-k)) + Stirling corrections, so the absolute
    error is a few ulps of the result itself (lgamma(N+1) - ... loses ~eps * N log N).
    Real (non-integer) arguments give the gamma-function extension.
    """
    N, k = np.broadcast_arrays(np.asarray(N, dtype=float), np.asarray(k, dtype=float))
    out = np.full(N.shape, -np.inf)
    ok = (k >= 0) & (k <= N)
    edge = ok & ((k == 0) | (k == N))
    out[edge] = 0.0
    inner = ok & ~edge
    Ni, ki = N[inner], k[inner]
    j = Ni - ki
    out[inner] = (ki * np.log(Ni / ki) + j * np.log1p(ki / j)
                  + 0.5 * np.log(Ni / (2.0 * np.pi * ki * j))
                  + _stirling_error(Ni) - _stirling_error(ki) - _stirling_error(j))
    return out[()] if out.ndim == 0 else out


def _as_int_array(field, x, low=None):
    a = np.asarray(x)
    if a.dtype.kind not in "iuf" or a.dtype == bool:
        fail(field, "an integer or an array of integers", x)
    if a.dtype.kind == "f" and not np.all(np.isfinite(a) & (a == np.round(a))):
        fail(field, "integer values", x)
    a = a.astype(np.int64)
    if low is not None and a.size and a.min() < low:
        fail(field, f"values >= {low}", int(a.min()))
    return a


def _check(cond, field, expected, bad):
    if not np.all(cond):
        fail(field, expected, np.asarray(bad)[~np.asarray(cond)].ravel()[0].item())


def _out(x, log):
    x = np.asarray(x, dtype=float)
    if not log:
        x = np.exp(x)
    return float(x) if x.ndim == 0 else x


def _log_tail(k, N, K, n):
    """log P(X >= k) for X ~ Hypergeometric(N cells, K marked, n drawn), broadcast arrays."""
    k, N, K, n = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (k, N, K, n)))
    lo = np.maximum(np.maximum(k, 0), n - (N - K))
    hi = np.minimum(K, n)
    width = int(np.max(hi - lo, initial=-1)) + 1
    if width <= 0:
        return np.full(k.shape, -np.inf)
    b = lo[..., None] + np.arange(width)
    valid = b <= hi[..., None]
    b = np.where(valid, b, lo[..., None])
    terms = (log_binom(K[..., None], b) + log_binom((N - K)[..., None], n[..., None] - b))
    terms = np.where(valid, terms, -np.inf)
    res = logsumexp(terms, axis=-1) - log_binom(N, n)
    return np.where(lo <= hi, np.minimum(res, 0.0), -np.inf)


def hypergeom_tail(k, N, K, n, *, log=False):
    """P(X >= k) for X ~ Hypergeometric(population N, K marked, n drawn), elementwise.

    Equals ``scipy.stats.hypergeom.sf(k - 1, N, K, n)``; with ``log=True`` the natural log,
    which stays finite far below 1e-308.
    """
    N = _as_int_array("N", N, low=0)
    K = _as_int_array("K", K, low=0)
    n = _as_int_array("n", n, low=0)
    k = _as_int_array("k", k)
    _check(K <= N, "K", "K <= N", K + 0 * N)
    _check(n <= N, "n", "n <= N (draws without replacement)", n + 0 * N)
    return _out(_log_tail(k, N, K, n), log)


def _validate(n, a, s=None, theta=None, v=None):
    n = _as_int_array("n", n, low=1)
    a = _as_int_array("a", a, low=1)
    _check(a <= n, "a", "active bits a <= n (input size)", a + 0 * n)
    out = [n, a]
    if s is not None:
        s = _as_int_array("s", s, low=1)
        _check(s <= a, "s", "synapses s <= a (a segment samples s of the a active bits)",
               s + 0 * a)
        out.append(s)
    if theta is not None:
        theta = _as_int_array("theta", theta, low=1)
        _check(theta <= s, "theta", "threshold theta <= s (synapses on the segment)",
               theta + 0 * s)
        out.append(theta)
    if v is not None:
        v = _as_int_array("v", v, low=0)
        _check(v <= a, "v", "noise v <= a (v of the a active bits are replaced)", v + 0 * a)
        _check(v <= n - a, "v", "noise v <= n - a (replacement bits come from inactive cells)",
               v + 0 * n)
        out.append(v)
    return out


def false_match_probability(n, a, s, theta, *, log=False):
    """Probability that a segment fires for a random, unrelated input (false positive).

    P = sum_{b=theta}^{s} C(s, b) C(n - s, a - b) / C(n, a)  (Ahmad & Hawkins 2016, eq. 4):
    n input cells, a active in the input, s synapses on the segment, threshold theta.
    """
    n, a, s, theta = _validate(n, a, s, theta)
    return _out(_log_tail(theta, n, s, a), log)


def false_negative_probability(a, s, theta, v, *, log=False):
    """Probability that a segment misses its own pattern after v of its a active bits moved.

    Noise turns off v of the pattern's a active bits (and turns on v others, which the
    segment has no synapses to). The segment fails when more than s - theta of its s
    synapses lost their input: P = sum_{b=s-theta+1}^{s} C(s, b) C(a - s, v - b) / C(a, v);
    zero when v <= s - theta.
    """
    a = _as_int_array("a", a, low=1)
    _, a, s, theta = _validate(a, a, s, theta)
    v = _as_int_array("v", v, low=0)
    _check(v <= a, "v", "noise v <= a (v of the a active bits are replaced)", v + 0 * a)
    return _out(_log_tail(s - theta + 1, a, s, v), log)


def expected_union_size(n, a, M):
    """Expected number of active bits in the union of M random SDRs: n (1 - (1 - a/n)^M)."""
    n, a = _validate(n, a)
    M = _as_int_array("M", M, low=1)
    return n * -np.expm1(M * np.log1p(-a / n))


def union_size_log_pmf(n, a, M):
    """log P(|x_1 | ... | x_M| = u) for u = 0..n, the union of M independent random SDRs.

    Exact: the union grows by k new bits with probability C(n-u, k) C(u, a-k) / C(n, a).
    n, a scalars; M a scalar (returns an array of length n + 1, -inf where impossible) or an
    array of counts (returns shape M.shape + (n + 1,), from one pass of the chain).
    """
    n, a = (int(x) for x in _validate(n, a))
    Ms = _as_int_array("M", M, low=1)
    out = np.empty(Ms.shape + (n + 1,))
    u = np.arange(n + 1)
    k = np.arange(a + 1)
    log_step = (log_binom((n - u)[:, None], k[None, :]) + log_binom(u[:, None], a - k[None, :])
                - log_binom(n, a))
    logp = np.full(n + 1, -np.inf)
    logp[a] = 0.0
    for m in range(1, int(Ms.max(initial=1)) + 1):
        if m > 1:
            new = np.full(n + 1, -np.inf)
            for kk in range(a + 1):
                contrib = logp[: n + 1 - kk] + log_step[: n + 1 - kk, kk]
                new[kk:] = np.logaddexp(new[kk:], contrib)
            logp = new
        out[Ms == m] = logp
    return out


def _union_mixture(n, k_union, M, log_tail_of_u, log):
    """sum_u P(|union of M random k_union-subsets| = u) * tail(u), for each M."""
    logp = union_size_log_pmf(n, k_union, M)
    u = np.arange(n + 1)
    lt = np.full(n + 1, -np.inf)
    ok = u >= 1
    lt[ok] = log_tail_of_u(u[ok])
    return _out(logsumexp(logp + lt, axis=-1), log)


def union_false_match_probability(n, a, s, theta, M, *, exact=True, log=False):
    """False-match probability when the input is the union of M random patterns.

    The segment holds s synapses from a pattern outside the union. ``exact=True`` averages
    the false-match probability over the exact distribution of the union size; ``exact=False``
    is the paper's approximation: a replaced by a' = n (1 - (1 - a/n)^M), rounded.
    n, a, s, theta scalars; M a scalar or an array.
    """
    n, a, s, theta = (int(x) for x in _validate(n, a, s, theta))
    M = _as_int_array("M", M, low=1)
    if not exact:
        a_u = np.rint(expected_union_size(n, a, M)).astype(np.int64)
        return _out(_log_tail(theta, n, s, a_u), log)
    return _union_mixture(n, a, M, lambda u: _log_tail(theta, n, s, u), log)


def union_segment_false_match_probability(n, a, s, theta, M, *, exact=True, log=False):
    """False-match probability of a segment that stores M patterns (s synapses from each).

    The segment's synapses are the union of M random s-subsets of the n cells; it fires for
    a random input of a active bits when at least theta synapses are active. ``exact=False``
    is the paper's approximation s' = n (1 - (1 - s/n)^M), rounded.
    n, a, s, theta scalars; M a scalar or an array.
    """
    n, a, s, theta = (int(x) for x in _validate(n, a, s, theta))
    M = _as_int_array("M", M, low=1)
    if not exact:
        s_u = np.rint(expected_union_size(n, s, M)).astype(np.int64)
        return _out(_log_tail(theta, n, s_u, a), log)
    return _union_mixture(n, s, M, lambda u: _log_tail(theta, n, u, a), log)


def detection_error(n, a, s, theta, v, *, fp_weight=1.0):
    """Total error of a detector: fp_weight * P(false match) + P(false negative under noise v)."""
    n, a, s, theta, v = _validate(n, a, s, theta, v)
    return fp_weight * np.exp(_log_tail(theta, n, s, a)) + np.exp(_log_tail(s - theta + 1, a, s, v))


def optimal_threshold(n, a, s, v, *, fp_weight=1.0):
    """The NMDA threshold theta in 1..s that minimises :func:`detection_error`, elementwise.

    Ties go to the smallest theta. Returns an int (scalars in) or an int array.
    """
    n, a, s, v = np.broadcast_arrays(*_validate(n, a, s, None, v))
    smax = int(s.max())
    theta = np.arange(1, smax + 1)
    ex = lambda x: x[..., None]  # noqa: E731
    ok = theta <= ex(s)
    th = np.where(ok, theta, 1)
    err = (fp_weight * np.exp(_log_tail(th, ex(n), ex(s), ex(a)))
           + np.exp(_log_tail(ex(s) - th + 1, ex(a), ex(s), ex(v))))
    err = np.where(ok, err, np.inf)
    best = np.argmin(err, axis=-1) + 1
    return int(best) if best.ndim == 0 else best


# ---- exact references (Python integers) -------------------------------------------------

def hypergeom_tail_exact(k, N, K, n) -> Fraction:
    """P(X >= k), X ~ Hypergeometric(N, K, n), as an exact Fraction (math.comb)."""
    lo, hi = max(k, 0, n - (N - K)), min(K, n)
    num = sum(math.comb(K, b) * math.comb(N - K, n - b) for b in range(lo, hi + 1))
    return Fraction(num, math.comb(N, n))


def false_match_probability_exact(n, a, s, theta) -> Fraction:
    """Exact :func:`false_match_probability` for scalar integers."""
    _validate(n, a, s, theta)
    return hypergeom_tail_exact(theta, n, s, a)


def false_negative_probability_exact(a, s, theta, v) -> Fraction:
    """Exact :func:`false_negative_probability` for scalar integers."""
    _validate(a, a, s, theta)
    return hypergeom_tail_exact(s - theta + 1, a, s, v)


def union_size_pmf_exact(n, a, M) -> list[Fraction]:
    """Exact distribution of the size of the union of M random a-subsets of n (index u)."""
    p = [Fraction(0)] * (n + 1)
    p[a] = Fraction(1)
    total = math.comb(n, a)
    for _ in range(M - 1):
        new = [Fraction(0)] * (n + 1)
        for u, pu in enumerate(p):
            if pu:
                for k in range(0, min(a, n - u) + 1):
                    w = math.comb(n - u, k) * math.comb(u, a - k)
                    if w:
                        new[u + k] += pu * Fraction(w, total)
        p = new
    return p
