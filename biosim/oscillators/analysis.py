"""Order parameters, phase locking and the mean-field theory of the Kuramoto transition.

Phases are in rad. ``theta`` of shape (N,) is one snapshot, (T, N) a time series.
"""
from __future__ import annotations

import math

import numpy as np

from biosim.core import validation as check

__all__ = ["order_parameter", "local_order_parameter", "ring_order_parameter",
           "phase_locking_value", "critical_coupling", "self_consistent_r",
           "lorentzian_r"]


def _phases(theta, field="theta"):
    a = check.array(field, theta)
    if a.ndim not in (1, 2) or a.shape[-1] == 0:
        check.fail(field, "phases of shape (N,) or (T, N) with N >= 1", f"shape {a.shape}")
    return a


def order_parameter(theta):
    """Kuramoto order parameter ``r e^{i psi} = mean_j e^{i theta_j}``: returns (r, psi),
    scalars for theta of shape (N,), arrays of length T for shape (T, N)."""
    z = np.exp(1j * _phases(theta)).mean(axis=-1)
    return np.abs(z), np.angle(z)


def local_order_parameter(theta, groups):
    """Order parameter of each group: ``groups`` labels each unit (ints 0..G-1);
    returns (r, psi) of shape (G,) or (T, G)."""
    a = _phases(theta)
    g = check.array("groups", groups, dtype=np.int64, shape=(a.shape[-1],), low=0)
    n_groups = int(g.max()) + 1
    counts = np.bincount(g, minlength=n_groups)
    if np.any(counts == 0):
        check.fail("groups", "every label in 0..G-1 used at least once",
                   f"empty group {int(np.argmin(counts))}")
    member = (g[:, None] == np.arange(n_groups)).astype(float)     # (N, G)
    sums = np.exp(1j * a) @ member
    zg = sums / counts
    return np.abs(zg), np.angle(zg)


def ring_order_parameter(theta, half_width):
    """Local order parameter on a ring: for each unit, |mean e^{i theta}| over the
    ``2 half_width + 1`` units centred on it (periodic); shape like ``theta``. Used to see
    chimera states (coherent and incoherent parts of one ring)."""
    a = _phases(theta)
    n = a.shape[-1]
    h = check.integer("half_width", half_width, low=0, high=(n - 1) // 2)
    z = np.exp(1j * a)
    c = np.concatenate([z[..., n - h:], z, z[..., :h]], axis=-1) if h else z
    cs = np.cumsum(np.concatenate([np.zeros(a.shape[:-1] + (1,), complex), c], axis=-1),
                   axis=-1)
    win = (cs[..., 2 * h + 1:] - cs[..., :-(2 * h + 1)]) / (2 * h + 1)
    return np.abs(win)


def phase_locking_value(theta_a, theta_b=None):
    """Phase-locking value over time, ``|mean_t e^{i (theta_a(t) - theta_b(t))}|`` in [0, 1].

    With two series of shape (T,) returns a scalar; with one series of shape (T, N)
    returns the (N, N) matrix between all units."""
    a = check.array("theta_a", theta_a)
    if theta_b is None:
        if a.ndim != 2:
            check.fail("theta_a", "shape (T, N) when theta_b is not given", f"shape {a.shape}")
        z = np.exp(1j * a)
        return np.abs(z.T @ z.conj()) / a.shape[0]
    b = check.array("theta_b", theta_b, shape=a.shape)
    if a.size == 0:
        check.fail("theta_a", "at least one time point", "an empty array")
    return float(np.abs(np.exp(1j * (a - b)).mean(axis=0))) if a.ndim == 1 else \
        np.abs(np.exp(1j * (a - b)).mean(axis=0))


def _density(dist, width):
    check.choice("dist", dist, ("lorentzian", "gaussian", "uniform"))
    w = check.positive("width", width)
    if dist == "lorentzian":
        return lambda x: w / (math.pi * (x * x + w * w))
    if dist == "gaussian":
        return lambda x: math.exp(-0.5 * (x / w) ** 2) / (w * math.sqrt(2 * math.pi))
    return lambda x: 1.0 / (2 * w) if abs(x) <= w else 0.0


def critical_coupling(dist, width, alpha=0.0):
    """Onset of synchrony K_c = 2 / (pi g(0)) (Kuramoto 1975) for a unimodal symmetric
    frequency density g: Lorentzian (half-width Delta) 2 Delta, Gaussian (sd sigma)
    sigma sqrt(8 / pi), uniform on [-gamma, gamma] 4 gamma / pi. With a Sakaguchi lag
    ``alpha`` (Lorentzian only, Ott-Antonsen): 2 Delta / cos(alpha)."""
    g0 = _density(dist, width)(0.0)
    alpha = check.number("alpha", alpha, low=-math.pi / 2, high=math.pi / 2,
                         low_open=True, high_open=True)
    if alpha != 0.0 and dist != "lorentzian":
        check.fail("alpha", "0 unless dist is 'lorentzian' (no closed form)", alpha)
    return 2.0 / (math.pi * g0) / math.cos(alpha)


def lorentzian_r(K, width, alpha=0.0):
    """Stationary r of the Kuramoto(-Sakaguchi) model with Lorentzian frequencies in the
    N -> infinity limit (Ott-Antonsen): sqrt(1 - 2 Delta / (K cos alpha)) above K_c, else 0."""
    K = check.number("K", K)
    kc = critical_coupling("lorentzian", width, alpha)
    return math.sqrt(1.0 - kc / K) if K > kc else 0.0


def self_consistent_r(K, dist="gaussian", width=1.0):
    """Stationary r for N -> infinity from Kuramoto's self-consistency equation
    ``1 = K integral_{-pi/2}^{pi/2} cos^2(phi) g(K r sin(phi)) dphi`` (locked oscillators;
    the drifting ones contribute nothing for a symmetric g), solved with scipy
    (``quad`` + ``brentq``). Returns 0 at and below K_c."""
    from scipy.integrate import quad
    from scipy.optimize import brentq

    K = check.number("K", K)
    g = _density(dist, width)
    if K <= critical_coupling(dist, width):
        return 0.0

    def f(r):
        val, _ = quad(lambda p: math.cos(p) ** 2 * g(K * r * math.sin(p)), -math.pi / 2,
                      math.pi / 2, epsabs=1e-13, epsrel=1e-12, limit=200)
        return K * val - 1.0

    if f(1.0) >= 0.0:
        return 1.0
    return brentq(f, 1e-12, 1.0, xtol=1e-13)
