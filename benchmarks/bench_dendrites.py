"""Dendrites benchmark: Monte-Carlo samples per second, numba (bit-packed SDRs) against
plain NumPy (the same estimate, vectorised in batches), in one process; the time for 10^8
samples at n = 2048; and the exact theory against scipy and exact integers on a grid.

    python benchmarks/bench_dendrites.py            # full sizes (10^8 samples: ~20-60 s)
    BIOSIM_BENCH_QUICK=1 python benchmarks/bench_dendrites.py
"""
from __future__ import annotations

import os
import time
from fractions import Fraction

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.stats import hypergeom  # noqa: E402

from biosim.dendrites import montecarlo as mc  # noqa: E402
from biosim.dendrites import theory as T  # noqa: E402

QUICK = os.environ.get("BIOSIM_BENCH_QUICK") == "1"


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def bench_montecarlo():
    n, a, s, theta = 2048, 40, 20, 4
    p = T.false_match_probability(n, a, s, theta)
    mc.false_match_rate(n, a, s, theta, 1000, seed=0)  # compile / load cache
    n_numba = 10**6 if QUICK else 10**7
    n_numpy = 2 * 10**4 if QUICK else 10**5
    r1, t1 = timed(mc.false_match_rate, n, a, s, theta, n_numba, seed=1)
    r2, t2 = timed(mc.false_match_rate, n, a, s, theta, n_numpy, seed=2, backend="numpy")
    rate1, rate2 = n_numba / t1, n_numpy / t2
    print(f"false match n={n} a={a} s={s} theta={theta}: theory {p:.4e}")
    print(f"  numba  {r1.p:.4e} +- {r1.se:.1e}  {rate1:,.0f} samples/s")
    print(f"  numpy  {r2.p:.4e} +- {r2.se:.1e}  {rate2:,.0f} samples/s")
    print(f"  speed-up numba / numpy: {rate1 / rate2:.0f}x")
    big = 10**7 if QUICK else 10**8
    r, t = timed(mc.false_match_rate, n, a, s, theta, big, seed=3)
    print(f"  {big:.0e} samples of n={n} on one core: {t:.1f} s  "
          f"(estimate {r.p:.5e} +- {r.se:.1e}, z = {r.z_score(p):+.2f})")
    for label, fn, args, pt in [
            ("false negative n=2048 a=40 s=20 theta=10 v=15", mc.false_negative_rate,
             (2048, 40, 20, 10, 15), T.false_negative_probability(40, 20, 10, 15)),
            ("union input n=1024 a=40 s=24 theta=10 M=8", mc.union_false_match_rate,
             (1024, 40, 24, 10, 8), T.union_false_match_probability(1024, 40, 24, 10, 8))]:
        fn(*args, 100, seed=0)
        k = 10**5 if QUICK else 10**6
        r, t = timed(fn, *args, k, seed=4)
        print(f"{label}: {k / t:,.0f} samples/s, z = {r.z_score(pt):+.2f}")


def bench_theory():
    n = np.array([1024, 4096, 2**14, 2**16, 2**20])[:, None, None]
    a = np.array([8, 32, 128, 512])[None, :, None]
    theta = np.arange(1, 9)[None, None, :]
    T.false_match_probability(n, a, 8, theta)
    grid, t = timed(T.false_match_probability, n, a, 8, theta, log=True)
    sp, t_sp = timed(hypergeom.logsf, theta - 1, n, 8, a)
    worst = worst_sp = 0.0
    for idx in np.ndindex(grid.shape):
        i, j, k = idx
        ex = T.false_match_probability_exact(int(n.flat[i]), int(a.flat[j]), 8, k + 1)
        lex = np_log(ex)
        worst = max(worst, abs(grid[idx] - lex))
        worst_sp = max(worst_sp, abs(sp[idx] - lex) if np.isfinite(sp[idx]) else np.inf)
    print(f"theory grid of {grid.size} points: {t * 1e3:.1f} ms (scipy hypergeom.logsf "
          f"{t_sp * 1e3:.1f} ms); worst relative error vs exact integers: ours "
          f"{worst:.1e}, scipy {worst_sp:.1e}")
    lp = T.false_match_probability(2**20, 4000, 160, 150, log=True)
    print(f"n=2^20 a=4000 s=160 theta=150: log10 P = {lp / np.log(10):.2f} "
          f"(scipy sf: {hypergeom.sf(149, 2**20, 160, 4000)})")


def np_log(x: Fraction) -> float:
    import math

    return math.log(x.numerator) - math.log(x.denominator)


if __name__ == "__main__":
    bench_montecarlo()
    bench_theory()
