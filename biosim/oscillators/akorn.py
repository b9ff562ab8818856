"""AKOrN: Artificial Kuramoto Oscillatory Neurons (Miyato, Loewe, Geiger & Welling, ICLR 2025).

Each oscillator is a unit vector x_i in R^D (D even). With natural-frequency matrices
Omega_i (antisymmetric D x D), a conditional stimulus c_i and a coupling J (D x D blocks
J_ij, here one (N D, N D) matrix acting on the flattened state), one update is::

    y_i = c_i + sum_j J_ij x_j
    x_i <- normalize(x_i + gamma (Omega_i x_i + y_i - <y_i, x_i> x_i))

and the energy is E = -1/2 sum_ij x_i^T J_ij x_j - sum_i c_i^T x_i. For symmetric J,
Omega = 0 and a small enough step gamma the energy does not increase (tests check it).

Two implementations that agree step by step: numba functions over NumPy arrays
(:func:`akorn_step`, :func:`akorn_run`, :func:`akorn_energy`) and the PyTorch module
:class:`KuramotoLayer` (CPU or CUDA, learns by backprop) with dense or convolutional coupling,
plus :class:`NormReadout` (the paper's readout: a linear map, then the norm of each channel
group). Torch is imported only when these are used.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from biosim.core import validation as check
from biosim.core.random import make_rng

__all__ = ["akorn_step", "akorn_run", "akorn_energy", "rotation_generators",
           "random_unit_vectors"]


# ---------------------------------------------------------------- checks
def _dim(D):
    D = check.integer("n_dim", D, low=2)
    if D % 2:
        check.fail("n_dim", "an even oscillator dimension (rotations act on pairs)", D)
    return D


def _check_system(x, J, omega, c):
    x = check.array("x", x, ndim=2)
    n, D = x.shape
    _dim(D)
    norms = np.linalg.norm(x, axis=1)
    if np.any(np.abs(norms - 1.0) > 1e-6):
        check.fail("x", "unit vectors (norm 1 per oscillator)", float(norms.min()))
    J = check.array("J", J, shape=(n * D, n * D))
    omega = np.zeros((n, D, D)) if omega is None else check.array("omega", omega,
                                                                   shape=(n, D, D))
    if not np.allclose(omega, -np.swapaxes(omega, 1, 2)):
        check.fail("omega", "antisymmetric D x D matrices (Omega^T = -Omega)", "a matrix")
    c = np.zeros((n, D)) if c is None else check.array("c", c, shape=(n, D))
    return (np.ascontiguousarray(x), np.ascontiguousarray(J), np.ascontiguousarray(omega),
            np.ascontiguousarray(c))


def rotation_generators(freqs, n_dim) -> np.ndarray:
    """Antisymmetric matrices Omega_i (shape (N, D, D)) made of 2 x 2 blocks
    [[0, -w], [w, 0]] from ``freqs`` of shape (N, D/2) (rad per step); D must be even."""
    D = _dim(n_dim)
    f = check.array("freqs", freqs, ndim=2)
    if f.shape[1] != D // 2:
        check.fail("freqs", f"shape (N, {D // 2})", f"shape {f.shape}")
    out = np.zeros((f.shape[0], D, D))
    k = np.arange(D // 2)
    out[:, 2 * k + 1, 2 * k] = f
    out[:, 2 * k, 2 * k + 1] = -f
    return out


def random_unit_vectors(n, n_dim, seed=None) -> np.ndarray:
    """``n`` vectors drawn uniformly on the unit sphere of R^D (shape (n, D))."""
    n = check.integer("n", n, low=1)
    x = make_rng(seed).standard_normal((n, _dim(n_dim)))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---------------------------------------------------------------- numba kernels
@njit(cache=True)
def _step(x, J, omega, c, gamma, out):
    n, D = x.shape
    flat = x.reshape(n * D)
    y = J @ flat
    for i in range(n):
        dot = 0.0
        for a in range(D):
            y[i * D + a] += c[i, a]
            dot += y[i * D + a] * x[i, a]
        norm = 0.0
        for a in range(D):
            rot = 0.0
            for b in range(D):
                rot += omega[i, a, b] * x[i, b]
            v = x[i, a] + gamma * (rot + y[i * D + a] - dot * x[i, a])
            out[i, a] = v
            norm += v * v
        norm = math.sqrt(norm)
        for a in range(D):
            out[i, a] /= norm


@njit(cache=True)
def _energy(x, J, c):
    flat = x.reshape(x.size)
    return -0.5 * flat @ (J @ flat) - np.sum(c * x)


@njit(cache=True)
def _run(x, J, omega, c, gamma, n_steps, xs, energies):
    xs[0] = x
    energies[0] = _energy(x, J, c)
    for t in range(n_steps):
        _step(xs[t], J, omega, c, gamma, xs[t + 1])
        energies[t + 1] = _energy(xs[t + 1], J, c)


def akorn_step(x, J, omega=None, c=None, gamma=1.0) -> np.ndarray:
    """One AKOrN update of unit vectors ``x`` (N, D); returns the new state.

    ``J``: (N D, N D) coupling (block J_ij = J[iD:(i+1)D, jD:(j+1)D]); ``omega``:
    (N, D, D) antisymmetric (default 0); ``c``: (N, D) stimulus (default 0); ``gamma``: step.
    """
    x, J, omega, c = _check_system(x, J, omega, c)
    out = np.empty_like(x)
    _step(x, J, omega, c, check.positive("gamma", gamma), out)
    return out


def akorn_energy(x, J, c=None) -> float:
    """E = -1/2 x^T J x - c^T x for the flattened state."""
    x, J, _, c = _check_system(x, J, None, c)
    return float(_energy(x, J, c))


def akorn_run(x0, J, omega=None, c=None, gamma=1.0, n_steps=10):
    """``n_steps`` updates from ``x0``: returns (states (T+1, N, D), energies (T+1,))."""
    x, J, omega, c = _check_system(x0, J, omega, c)
    n_steps = check.integer("n_steps", n_steps, low=0)
    xs = np.empty((n_steps + 1,) + x.shape)
    energies = np.empty(n_steps + 1)
    _run(x, J, omega, c, check.positive("gamma", gamma), n_steps, xs, energies)
    return xs, energies


def __getattr__(name):
    # the torch classes live in akorn_torch (imported on first use: torch is optional)
    if name in ("KuramotoLayer", "NormReadout"):
        from biosim.oscillators import akorn_torch

        return getattr(akorn_torch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
