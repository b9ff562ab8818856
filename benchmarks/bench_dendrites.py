"""Dendrites benchmark: Monte-Carlo false-match samples per second at n = 2048, a = 40,
s = 20, theta = 4 (P ~ 1e-3, so the estimate has events to count): biosim's numba kernel
(bit-packed SDRs, Floyd's algorithm) against the strongest straightforward NumPy sampler,
O(a) per sample (a random indices per input, rows with a repeated index redrawn, the
overlap read from the segment's bool mask), in paired alternating rounds of CPU time in one
process, median [min-max]; the time for 10^8 samples; and the exact theory against scipy
and exact integers on a grid.

    python benchmarks/bench_dendrites.py            # full sizes (10^8 samples: ~20-60 s)
    BIOSIM_BENCH_QUICK=1 python benchmarks/bench_dendrites.py
"""
from __future__ import annotations

import os
import time
from fractions import Fraction

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _common import QUICK, cpu, header, ratio, rounds, spread  # noqa: E402
from scipy.stats import hypergeom  # noqa: E402

from biosim.dendrites import montecarlo as mc  # noqa: E402
from biosim.dendrites import theory as T  # noqa: E402

N, A, S, THETA = 2048, 40, 20, 4


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def false_match_numpy(n, a, s, theta, n_samples, seed, batch=1 << 15):
    """Count of inputs (a distinct random bits of n) overlapping a random segment (s bits,
    redrawn every batch) in >= theta bits; O(a) work per sample."""
    rng = np.random.default_rng(seed)
    count = done = 0
    while done < n_samples:
        b = min(batch, n_samples - done)
        seg = np.zeros(n, bool)
        seg[rng.choice(n, s, replace=False)] = True
        idx = rng.integers(0, n, (b, a), dtype=np.int16 if n < 2**15 else np.int64)
        rows = np.arange(b)
        while rows.size:  # uniform a-subsets: redraw the rows that repeat an index
            srt = np.sort(idx[rows], axis=1)
            rows = rows[(srt[:, 1:] == srt[:, :-1]).any(axis=1)]
            idx[rows] = rng.integers(0, n, (rows.size, a), dtype=idx.dtype)
        count += int((seg[idx].sum(axis=1) >= theta).sum())
        done += b
    return count


def bench_montecarlo():
    n, a, s, theta = N, A, S, THETA
    p = T.false_match_probability(n, a, s, theta)
    mc.false_match_rate(n, a, s, theta, 1000, seed=0)  # compile / load cache
    k = 10**6 if QUICK else 10**7
    seeds = iter(range(100))
    est = {"numba": [], "numpy": []}

    def numba():
        t, r = cpu(mc.false_match_rate, n, a, s, theta, k, seed=next(seeds))
        est["numba"].append(r.p)
        return t / k

    def numpy():
        t, c = cpu(false_match_numpy, n, a, s, theta, k // 10, next(seeds))
        est["numpy"].append(c / (k // 10))
        return t / (k // 10)

    r = rounds({"numba": numba, "numpy": numpy}, 3)
    print(f"false match n={n} a={a} s={s} theta={theta}: theory {p:.4e}")
    for key, count in (("numba", k), ("numpy", k // 10)):
        print(f"  {key:<6} {np.mean(est[key]):.4e} (mean of {len(est[key])} x {count:.0e} "
              f"samples)  {spread([1 / x for x in r[key]], '{:,.0f}')} samples/s")
    print(f"  speed-up numba / NumPy O(a): "
          f"{ratio('dendrites', 'false match n=2048', r['numba'], r['numpy'], 'NumPy O(a)')}")
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
    header("Dendrites, one core")
    bench_montecarlo()
    bench_theory()
