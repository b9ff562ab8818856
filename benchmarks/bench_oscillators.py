"""Kuramoto speed: biosim (numba) vs straightforward vectorised NumPy and the `kuramoto`
PyPI package (O(N^2) with scipy's odeint), CPU time in one process, alternating rounds,
median [min-max]; every ratio is like for like (same algorithm, same outputs checked); the
win of the O(N) mean field over the package's O(N^2) sum is printed as a separate line.

Sizes (BIOSIM_BENCH_QUICK=1 divides them): N = 10^6 all-to-all oscillators for 1000 RK4
steps (O(N) mean field); N = 10^5 oscillators on a random graph with 100 neighbours each
(CSR); N = 1000 all-to-all against the `kuramoto` package. Peers that would take minutes
run fewer steps and are compared per step (said in the output). ``--sparse N`` runs the sparse
case alone at N oscillators (full steps).
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from _common import QUICK, cpu, header, ratio, rounds, spread  # noqa: E402

from biosim.oscillators import natural_frequencies, simulate  # noqa: E402

ROUNDS = 3


def numpy_rk4(theta, omega, K, dt, n_steps, W=None):
    """The textbook vectorised version: O(N) mean field (or W^T products), RK4."""
    def f(th):
        c, s = np.cos(th), np.sin(th)
        if W is None:
            z = K * (c.mean() + 1j * s.mean())
            return omega + z.imag * c - z.real * s
        return omega + (W.T @ s) * c - (W.T @ c) * s

    theta = theta.copy()
    for _ in range(n_steps):
        k1 = f(theta)
        k2 = f(theta + 0.5 * dt * k1)
        k3 = f(theta + 0.5 * dt * k2)
        k4 = f(theta + dt * k3)
        theta += dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return theta


def timed(fn):
    t, out = cpu(fn)
    return out, t


def bench_all_to_all(n, steps, peer_steps, dt=0.01):
    rng = np.random.default_rng(0)
    theta0 = rng.uniform(0, 2 * np.pi, n)
    omega = natural_frequencies(n, "lorentzian", 0.5, seed=1)
    simulate(theta0[:10], omega[:10], dt, 2, K=2.0)  # compile
    r = rounds({"biosim": lambda: timed(lambda: simulate(theta0, omega, dt, steps, K=2.0))[1]
                / steps,
                "numpy": lambda: timed(lambda: numpy_rk4(theta0, omega, 2.0, dt, peer_steps))[1]
                / peer_steps}, ROUNDS)
    ref = numpy_rk4(theta0, omega, 2.0, dt, peer_steps)
    short = simulate(theta0, omega, dt, peer_steps, K=2.0).theta
    err = np.abs(short - ref).max()
    print(f"all-to-all N={n:.0e}, RK4, O(N) mean field in both: biosim ({steps} steps) "
          f"{spread(np.array(r['biosim']) * 1e3)} ms/step; NumPy ({peer_steps} steps) "
          f"{spread(np.array(r['numpy']) * 1e3)} ms/step; max |dtheta| {err:.1e}")
    print(f"  ratio NumPy/biosim per step: "
          f"{ratio('oscillators', f'all-to-all N={n:.0e}', r['biosim'], r['numpy'], 'NumPy')}")


def bench_sparse(n, k, steps, peer_steps, dt=0.01):
    rng = np.random.default_rng(2)
    rows = rng.integers(0, n, n * k)            # pre units
    cols = np.repeat(np.arange(n), k)           # k inputs per post unit
    W = sp.csr_matrix((np.full(n * k, 1.0 / k), (rows, cols)), shape=(n, n))
    theta0 = rng.uniform(0, 2 * np.pi, n)
    omega = natural_frequencies(n, "gaussian", 0.2, seed=3)
    simulate(theta0[:10], omega[:10], dt, 2, coupling=W[:10, :10])  # compile
    Wc = W.tocsc()
    r = rounds({"biosim": lambda: timed(lambda: simulate(theta0, omega, dt, steps,
                                                         coupling=W))[1] / steps,
                "scipy": lambda: timed(lambda: numpy_rk4(theta0, omega, 0.0, dt, peer_steps,
                                                         W=Wc))[1] / peer_steps}, ROUNDS)
    ref = numpy_rk4(theta0, omega, 0.0, dt, peer_steps, W=Wc)
    err = np.abs(simulate(theta0, omega, dt, peer_steps, coupling=W).theta - ref).max()
    print(f"sparse N={n:.0e}, {k} neighbours, RK4: biosim {spread(np.array(r['biosim']) * 1e3)}"
          f" ms/step; NumPy+scipy.sparse {spread(np.array(r['scipy']) * 1e3)} ms/step; "
          f"max |dtheta| {err:.1e}")
    x = ratio("oscillators", f"sparse N={n:.0e} k={k}", r["biosim"], r["scipy"],
              "NumPy+scipy.sparse")
    print(f"  ratio scipy.sparse/biosim per step: {x}")


def bench_pypi(n, T, dt=0.01):
    from kuramoto import Kuramoto

    rng = np.random.default_rng(4)
    omega = rng.normal(0, 1, n)
    theta0 = rng.uniform(0, 2 * np.pi, n)
    adj = np.ones((n, n)) - np.eye(n)
    model = Kuramoto(coupling=2.0, dt=dt, T=T, natfreqs=omega)
    act = model.run(adj_mat=adj, angles_vec=theta0)
    steps = act.shape[1] - 1          # its time grid has int(T/dt) points, from t = 0
    h = T / steps
    W = 2.0 * adj / (n - 1)           # the package divides K by the in-degree
    simulate(theta0[:10], omega[:10], h, 2, coupling=W[:10, :10])
    r = rounds({"dense": lambda: timed(lambda: simulate(theta0, omega, h, steps,
                                                        coupling=W))[1],
                "mean field": lambda: timed(lambda: simulate(theta0, omega, h, steps,
                                                             K=2.0 * n / (n - 1)))[1],
                "package": lambda: timed(lambda: model.run(adj_mat=adj,
                                                           angles_vec=theta0))[1]},
               2 if not QUICK else ROUNDS)
    dense = simulate(theta0, omega, h, steps, coupling=W)
    err = np.abs(np.angle(np.exp(1j * (dense.theta - act[:, -1])))).max()
    print(f"kuramoto (PyPI) N={n}, T={T}: {spread(r['package'])} s; biosim dense O(N^2) RK4 "
          f"{spread(r['dense'])} s, mean field O(N) {spread(r['mean field'])} s "
          f"(max |dtheta| dense vs package {err:.1e})")
    x = ratio("oscillators", f"kuramoto pkg N={n}", r["dense"], r["package"], "kuramoto (PyPI)")
    print(f"  ratio kuramoto/biosim, like for like (O(N^2) coupling sum): {x}")
    x = ratio("oscillators", f"kuramoto pkg N={n} mean field", r["mean field"], r["package"],
              "kuramoto (PyPI) O(N^2)", biosim="biosim O(N)")
    print(f"  algorithmic win, O(N) mean field instead of the package's O(N^2) sum: {x}")


def bench_akorn(n=256, D=4, steps=50):
    import torch

    from biosim.oscillators.akorn import KuramotoLayer, akorn_run, random_unit_vectors

    rng = np.random.default_rng(5)
    J = rng.normal(size=(n * D, n * D)) / np.sqrt(n * D)
    x0 = random_unit_vectors(n, D, seed=6)
    akorn_run(x0[:2], J[:2 * D, :2 * D], n_steps=1)
    _, t_nb = timed(lambda: akorn_run(x0, J, n_steps=steps))
    layer = KuramotoLayer(n_dim=D, n_osc=n, n_steps=steps)
    with torch.no_grad():
        layer.J.copy_(torch.from_numpy(J))
        c = torch.zeros(1, n, D, dtype=torch.float64)
        _, t_t = timed(lambda: layer.trajectory(c, torch.from_numpy(x0)[None]))
    print(f"AKOrN dense N={n}, D={D}, {steps} steps with energies: numba {t_nb * 1e3:.1f} ms, "
          f"torch CPU float64 {t_t * 1e3:.1f} ms (ratio torch/numba {t_t / t_nb:.1f}x)")


if __name__ == "__main__":
    header("Kuramoto oscillators, one core, CPU time")
    if sys.argv[1:2] == ["--sparse"]:
        if len(sys.argv) != 3:
            sys.exit("usage: bench_oscillators.py [--sparse N]  (N: units, e.g. 1e6)")
        bench_sparse(int(float(sys.argv[2])), 100, 100, 10)
    elif QUICK:
        bench_all_to_all(10_000, 200, 50)
        bench_sparse(10_000, 100, 20, 5)
        bench_pypi(200, 2.0)
        bench_akorn(64, 4, 20)
    else:
        bench_all_to_all(1_000_000, 1000, 20)
        bench_sparse(100_000, 100, 100, 10)
        bench_pypi(1000, 10.0)
        bench_akorn()
