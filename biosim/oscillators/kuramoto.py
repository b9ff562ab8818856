"""Kuramoto phase oscillators: numba kernels, frequency distributions and a simulator.

The model (Kuramoto 1975; Sakaguchi & Kuramoto 1986 for the phase lag ``alpha``)::

    dtheta_i/dt = omega_i + K r sin(psi - theta_i - alpha)
                          + sum_j W[j, i] sin(theta_j - theta_i - alpha) + sigma xi_i(t)

where ``r e^{i psi} = (1/N) sum_j e^{i theta_j}`` is the mean field (so the global term
equals ``(K/N) sum_j sin(theta_j - theta_i - alpha)`` computed in O(N)), ``W`` is an optional
coupling matrix in the projection convention (shape (n_pre, n_post), dense or CSR with rows =
pre units) and ``xi`` is white noise (Euler-Maruyama, ``dtheta += sigma sqrt(dt) N(0, 1)``).
The matrix term costs two products ``W^T cos(theta)``, ``W^T sin(theta)`` instead of N^2 sines.

Time is in model units (ms inside a :class:`biosim.Network`); frequencies in rad per time
unit; ``sigma`` in rad per sqrt(time unit).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from biosim.core import validation as check
from biosim.core.population import Population
from biosim.core.random import make_rng

__all__ = ["natural_frequencies", "simulate", "KuramotoResult", "KuramotoPopulation",
           "coupling_arrays"]

# coupling kinds understood by the kernels
_NONE, _DENSE, _CSR = 0, 1, 2


# ---------------------------------------------------------------- kernels
@njit(cache=True)
def _rhs(theta, omega, K, alpha, kind, W, data, indptr, indices, cbuf, sbuf, out):
    """out = dtheta/dt; returns (sum cos theta, sum sin theta) of the input phases."""
    n = theta.size
    ca, sa = math.cos(alpha), math.sin(alpha)
    sc = 0.0
    ss = 0.0
    for i in range(n):
        c = math.cos(theta[i])
        s = math.sin(theta[i])
        cbuf[i] = c
        sbuf[i] = s
        sc += c
        ss += s
    # global term K r sin(psi - theta_i - alpha) = K (Y cos(theta_i + a) - X sin(theta_i + a))
    X = K * sc / n
    Y = K * ss / n
    if kind == _DENSE:
        for i in range(n):
            out[i] = 0.0
        sx = np.zeros(n)
        for j in range(n):
            cj = cbuf[j]
            sj = sbuf[j]
            for i in range(n):
                w = W[j, i]
                sx[i] += w * cj
                out[i] += w * sj
        for i in range(n):
            c = cbuf[i] * ca - sbuf[i] * sa      # cos(theta_i + alpha)
            s = sbuf[i] * ca + cbuf[i] * sa      # sin(theta_i + alpha)
            out[i] = omega[i] + (Y + out[i]) * c - (X + sx[i]) * s
    elif kind == _CSR:
        # rows = post units (the transpose of the projection layout): gather, no scatter
        for i in range(n):
            sx = 0.0
            sy = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                sx += data[k] * cbuf[j]
                sy += data[k] * sbuf[j]
            c = cbuf[i] * ca - sbuf[i] * sa
            s = sbuf[i] * ca + cbuf[i] * sa
            out[i] = omega[i] + (Y + sy) * c - (X + sx) * s
    else:
        for i in range(n):
            c = cbuf[i] * ca - sbuf[i] * sa
            s = sbuf[i] * ca + cbuf[i] * sa
            out[i] = omega[i] + Y * c - X * s
    return sc, ss


@njit(cache=True)
def _integrate(theta, omega, K, alpha, kind, W, data, indptr, indices, dt, n_steps, rk4,
               noise, sigma, every, r_out, psi_out, theta_out, t0):
    """Advance ``theta`` in place by ``n_steps``; record r, psi after each step (index
    ``t0 + k``) and the phases every ``every`` steps (when ``theta_out`` has rows).

    ``noise`` holds one standard normal per step and unit (shape (n_steps, n)) or is empty."""
    n = theta.size
    cb = np.empty(n)
    sb = np.empty(n)
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    tmp = np.empty(n)
    sq = sigma * math.sqrt(dt)
    has_noise = noise.shape[0] > 0
    for step in range(n_steps):
        _rhs(theta, omega, K, alpha, kind, W, data, indptr, indices, cb, sb, k1)
        if rk4:
            for i in range(n):
                tmp[i] = theta[i] + 0.5 * dt * k1[i]
            _rhs(tmp, omega, K, alpha, kind, W, data, indptr, indices, cb, sb, k2)
            for i in range(n):
                tmp[i] = theta[i] + 0.5 * dt * k2[i]
            _rhs(tmp, omega, K, alpha, kind, W, data, indptr, indices, cb, sb, k3)
            for i in range(n):
                tmp[i] = theta[i] + dt * k3[i]
            _rhs(tmp, omega, K, alpha, kind, W, data, indptr, indices, cb, sb, k4)
            for i in range(n):
                theta[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
        else:
            for i in range(n):
                theta[i] += dt * k1[i]
        sc = 0.0
        ss = 0.0
        for i in range(n):
            if has_noise:
                theta[i] += sq * noise[step, i]
            sc += math.cos(theta[i])
            ss += math.sin(theta[i])
        g = t0 + step
        r_out[g] = math.hypot(sc, ss) / n
        psi_out[g] = math.atan2(ss, sc)
        if theta_out.shape[0] > 0 and (g + 1) % every == 0:
            theta_out[(g + 1) // every - 1, :] = theta


# ---------------------------------------------------------------- frequencies
_DISTS = ("lorentzian", "gaussian", "uniform")


def natural_frequencies(n, dist="lorentzian", width=1.0, center=0.0, *, sample="random",
                        seed=None) -> np.ndarray:
    """Natural frequencies omega (rad per time unit) of ``n`` oscillators.

    ``dist``: ``"lorentzian"`` (Cauchy, half-width ``width`` = Delta), ``"gaussian"``
    (sd ``width`` = sigma) or ``"uniform"`` (on [center - width, center + width]).
    ``sample="random"`` draws from ``make_rng(seed)``; ``"quantile"`` takes the
    quantiles F^-1((k + 1/2) / n), k = 0..n-1 (sorted, no sampling noise: finite-size
    results then sit much closer to the N -> infinity theory), shuffled when ``seed`` is given.
    """
    n = check.integer("n", n, low=1)
    check.choice("dist", dist, _DISTS)
    width = check.positive("width", width)
    center = check.number("center", center)
    check.choice("sample", sample, ("random", "quantile"))
    if sample == "quantile":
        u = (np.arange(n) + 0.5) / n
        if dist == "lorentzian":
            w = np.tan(np.pi * (u - 0.5))
        elif dist == "gaussian":
            from scipy.special import ndtri

            w = ndtri(u)
        else:
            w = 2.0 * u - 1.0
        if seed is not None:
            make_rng(seed).shuffle(w)
    else:
        rng = make_rng(seed)
        if dist == "lorentzian":
            w = rng.standard_cauchy(n)
        elif dist == "gaussian":
            w = rng.standard_normal(n)
        else:
            w = rng.uniform(-1.0, 1.0, n)
    return center + width * w


# ---------------------------------------------------------------- coupling
def coupling_arrays(coupling, n):
    """(kind, W, data, indptr, indices) for the kernels from None, a dense (n, n) array
    or a scipy sparse matrix / :class:`biosim.core.projection.Weights`, both (n_pre, n_post);
    the kernels get the sparse matrix transposed (CSR rows = post units)."""
    empty_f, empty_i = np.zeros(0), np.zeros(0, np.int64)
    if coupling is None:
        return _NONE, np.zeros((0, 0)), empty_f, empty_i, empty_i
    if hasattr(coupling, "indptr") and hasattr(coupling, "indices"):
        import scipy.sparse as sp

        if not hasattr(coupling, "tocsr"):                   # core Weights (CSR, rows = pre)
            coupling = sp.csr_matrix((coupling.data, coupling.indices, coupling.indptr),
                                     shape=(coupling.n_pre, coupling.n_post))
        if coupling.shape != (n, n):
            check.fail("coupling", f"shape ({n}, {n})", f"shape {coupling.shape}")
        m = sp.csr_matrix(coupling.T)                        # rows = post units
        m.sum_duplicates()
        data = np.ascontiguousarray(m.data, dtype=float)
        if not np.all(np.isfinite(data)):
            check.fail("coupling", "finite values (no NaN or inf)", "a non-finite entry")
        return (_CSR, np.zeros((0, 0)), data, np.ascontiguousarray(m.indptr, np.int64),
                np.ascontiguousarray(m.indices, np.int64))
    if getattr(coupling, "dense", False) and hasattr(coupling, "W"):
        coupling = coupling.W
    W = check.array("coupling", coupling, shape=(n, n))
    return _DENSE, np.ascontiguousarray(W), empty_f, empty_i, empty_i


# ---------------------------------------------------------------- simulator
class KuramotoResult:
    """What :func:`simulate` returns: ``t`` (time after each step), ``r`` and ``psi`` after
    each step, ``theta`` (final phases, rad) and ``phases`` (recorded phases, shape
    (n_records, N), or None)."""

    def __init__(self, t, r, psi, theta, phases):
        self.t, self.r, self.psi, self.theta, self.phases = t, r, psi, theta, phases

    def __repr__(self):
        return (f"KuramotoResult(N={self.theta.size}, steps={self.r.size}, "
                f"r_final={self.r[-1]:.4f})")


def simulate(theta0, omega, dt, n_steps, *, K=0.0, coupling=None, alpha=0.0, sigma=0.0,
             method="rk4", record_every=0, seed=None) -> KuramotoResult:
    """Integrate the Kuramoto-Sakaguchi model from phases ``theta0`` (rad).

    ``omega``: natural frequencies (scalar or per unit); ``K``: global (all-to-all) coupling,
    computed in O(N) through the mean field; ``coupling``: optional extra coupling matrix
    W (n_pre, n_post), dense array or CSR (scipy.sparse), added as
    ``sum_j W[j, i] sin(theta_j - theta_i - alpha)`` (all-to-all W = K/N gives the same
    dynamics as ``K``); ``alpha``: Sakaguchi phase lag (rad); ``sigma``: phase-noise
    amplitude (rad / sqrt(time unit)), added after each deterministic step
    (Euler-Maruyama); ``method``: ``"rk4"`` or ``"euler"``; ``record_every``: store the
    phases every that many steps (0: only the final phases). ``dt`` and the returned times
    are in model time units.
    """
    theta = np.array(check.array("theta0", theta0, ndim=1), dtype=float)
    n = theta.size
    if n == 0:
        check.fail("theta0", "at least one oscillator", "an empty array")
    omega = check.per_unit("omega", omega, n)
    dt = check.positive("dt", dt)
    n_steps = check.integer("n_steps", n_steps, low=1)
    K = check.number("K", K)
    alpha = check.number("alpha", alpha)
    sigma = check.nonnegative("sigma", sigma)
    rk4 = check.choice("method", method, ("rk4", "euler")) == "rk4"
    every = check.integer("record_every", record_every, low=0)
    kind, W, data, indptr, indices = coupling_arrays(coupling, n)

    r = np.empty(n_steps)
    psi = np.empty(n_steps)
    phases = np.empty((n_steps // every if every else 0, n))
    rng = make_rng(seed)
    # noise drawn by NumPy's Generator in blocks of about 4 M numbers
    block = max(1, min(n_steps, (1 << 22) // n)) if sigma > 0 else n_steps
    done = 0
    while done < n_steps:
        m = min(block, n_steps - done)
        noise = rng.standard_normal((m, n)) if sigma > 0 else np.zeros((0, 0))
        _integrate(theta, omega, K, alpha, kind, W, data, indptr, indices, dt, m, rk4,
                   noise, sigma, max(every, 1), r, psi, phases, done)
        done += m
    t = dt * np.arange(1, n_steps + 1)
    return KuramotoResult(t, r, psi, theta, phases if every else None)


# ---------------------------------------------------------------- population (Network API)
@njit(cache=True)
def _field_rhs(theta, omega, K, ca, sa, Fx, Fy, out):
    """dtheta/dt with the global term and a frozen external field F = sum_j W[j, i]
    (cos theta_j, sin theta_j) (the projection input)."""
    n = theta.size
    sc = 0.0
    ss = 0.0
    for i in range(n):
        sc += math.cos(theta[i])
        ss += math.sin(theta[i])
    X = K * sc / n
    Y = K * ss / n
    for i in range(n):
        c0 = math.cos(theta[i])
        s0 = math.sin(theta[i])
        c = c0 * ca - s0 * sa
        s = s0 * ca + c0 * sa
        out[i] = omega[i] + (Y + Fy[i]) * c - (X + Fx[i]) * s


@njit(cache=True)
def _pop_step(theta, omega, K, alpha, Fx, Fy, dt, rk4, noise, sq, activity):
    n = theta.size
    ca, sa = math.cos(alpha), math.sin(alpha)
    k1 = np.empty(n)
    _field_rhs(theta, omega, K, ca, sa, Fx, Fy, k1)
    if rk4:
        k2 = np.empty(n)
        k3 = np.empty(n)
        k4 = np.empty(n)
        tmp = theta + 0.5 * dt * k1
        _field_rhs(tmp, omega, K, ca, sa, Fx, Fy, k2)
        tmp = theta + 0.5 * dt * k2
        _field_rhs(tmp, omega, K, ca, sa, Fx, Fy, k3)
        tmp = theta + dt * k3
        _field_rhs(tmp, omega, K, ca, sa, Fx, Fy, k4)
        for i in range(n):
            theta[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
    else:
        for i in range(n):
            theta[i] += dt * k1[i]
    for i in range(n):
        if noise.size:
            theta[i] += sq * noise[i]
        activity[i, 0] = math.cos(theta[i])
        activity[i, 1] = math.sin(theta[i])


class KuramotoPopulation(Population):
    """N Kuramoto-Sakaguchi phase oscillators as a :class:`biosim.Population`.

    ``activity`` is the phase as unit vectors (cos theta, sin theta), shape (n, 2), so a
    projection delivers ``inputs["I"][i] = sum_j W[j, i] (cos theta_j, sin theta_j)`` and the
    oscillator adds ``I_y cos(theta_i + alpha) - I_x sin(theta_i + alpha)``
    = ``sum_j W[j, i] sin(theta_j - theta_i - alpha)`` to dtheta_i/dt. The global coupling
    ``K`` acts in O(N) through the mean field. ``omega``: natural frequencies (rad/ms,
    scalar or per unit; see :func:`natural_frequencies`); ``sigma``: phase noise
    (rad / sqrt(ms)); ``theta0``: initial phases (default uniform on [0, 2 pi) from the
    network's seed). ``gain`` multiplies the projection input (e.g. k/N for weights
    K_ij of order 1, as in adaptive-coupling models). ``method="rk4"`` integrates the population's own terms to fourth order
    with the projection input held fixed over the step (the network delivers it once per
    step); with projections the result is first order in dt, exactly as ``"euler"``.
    State ``theta`` (rad); ``r`` and ``psi`` give the population's order parameter.
    """

    activity_dtype = np.float64

    def __init__(self, n, omega=0.0, K=0.0, alpha=0.0, sigma=0.0, method="euler",
                 theta0=None, gain=1.0, name=None):
        super().__init__(n, name)
        self.omega = check.per_unit("omega", omega, self.n)
        self.K = check.number("K", K)
        self.alpha = check.number("alpha", alpha)
        self.sigma = check.nonnegative("sigma", sigma)
        self.method = check.choice("method", method, ("rk4", "euler"))
        self.gain = check.number("gain", gain)
        self.theta0 = None if theta0 is None else check.per_unit("theta0", theta0, self.n)
        self.inputs = {"I": np.zeros((self.n, 2))}
        self.activity = np.zeros((self.n, 2))
        self._rng = None

    def initialize(self, rng):
        self._rng = rng
        theta = self.theta0.copy() if self.theta0 is not None else rng.uniform(0, 2 * np.pi, self.n)
        self.state["theta"] = theta
        self.activity[:, 0] = np.cos(theta)
        self.activity[:, 1] = np.sin(theta)

    def step(self, t, dt):
        I = self.inputs["I"] * self.gain if self.gain != 1.0 else self.inputs["I"]
        noise = self._rng.standard_normal(self.n) if self.sigma > 0 else np.zeros(0)
        _pop_step(self.state["theta"], self.omega, self.K, self.alpha,
                  np.ascontiguousarray(I[:, 0]), np.ascontiguousarray(I[:, 1]), dt,
                  self.method == "rk4", noise, self.sigma * math.sqrt(dt), self.activity)

    @property
    def r(self) -> float:
        """Order parameter |mean e^{i theta}| of the population now."""
        return float(np.hypot(*self.activity.mean(axis=0)))

    @property
    def psi(self) -> float:
        """Mean phase (rad) of the population now."""
        m = self.activity.mean(axis=0)
        return float(np.arctan2(m[1], m[0]))
