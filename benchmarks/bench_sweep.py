"""Sweep overhead and parallel speed-up, against a bare ProcessPoolExecutor in the same run.

1. Overhead per point for a trivial fn (target < 10 ms locally), 2 workers: biosim.sweep
   with a store (small points go to the workers in batches; a claim and a commit per batch)
   vs ``ProcessPoolExecutor.map``; marginal cost from N and 2N. Fastest of 3 runs.
2. CPU-bound fn of ~40 ms per point, 2 workers vs 1 (target >= 1.7x; ``workers=1`` runs in
   this process), alternating rounds, median [min-max] of the per-round ratios, with the
   bare pool's ratio (2 pool processes vs a plain loop) beside it: the ceiling on this
   machine when other work shares the cores. Workers stay warm between sweeps; the first
   2-worker sweep of the process (cold: starting the workers) is printed apart.
3. Dask LocalCluster (2 processes) overhead per point, same trivial fn.

``BIOSIM_BENCH_QUICK=1`` for small sizes.
"""
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import biosim.sweep as sw  # noqa: E402
from _common import QUICK, ratio  # noqa: E402


def trivial(a, seed):
    return {"y": float(a)}


N_SPIN = 300_000  # set by _calibrate to ~40 ms per call


def spin(a, seed, n=None):
    """Pure-Python arithmetic, ~40 ms per call after ``_calibrate``."""
    x = seed % 7
    for i in range(n or N_SPIN):
        x = (x * 1103515245 + i) % 2147483648
    return {"x": float(x + a)}


def _calibrate(target_s=0.04):
    global N_SPIN
    t0 = time.perf_counter()
    spin(0, 0, n=100_000)
    N_SPIN = int(100_000 * target_s / (time.perf_counter() - t0))


def _bare(fn, n, workers):
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_call, [(fn, a) for a in range(n)]))
    return time.perf_counter() - t0


def _call(args):
    fn, a = args
    return fn(a=a, seed=0)


def _loop(fn, n):
    t0 = time.perf_counter()
    for a in range(n):
        fn(a=a, seed=0)
    return time.perf_counter() - t0


def _sweep(fn, n, workers, tmp, **kw):
    store = os.path.join(tmp, f"s{time.perf_counter_ns()}.sqlite")
    t0 = time.perf_counter()
    df = sw.sweep(fn, grid={"a": list(range(n))}, store=store, workers=workers,
                  progress=False, **kw)
    assert (df.status == "ok").all()
    return time.perf_counter() - t0


def _best(f, *args, repeat=3, **kw):
    """Fastest of ``repeat`` runs: the least disturbed by other work on shared cores."""
    return min(f(*args, **kw) for _ in range(repeat))


def main():
    n = 200 if QUICK else 1000
    m = 16 if QUICK else 48
    rounds = 3 if QUICK else 5
    with tempfile.TemporaryDirectory() as tmp:
        _sweep(trivial, 10, 2, tmp)  # imports, first-call costs, workers started
        t1, t2 = _best(_sweep, trivial, n, 2, tmp), _best(_sweep, trivial, 2 * n, 2, tmp)
        b1, b2 = _best(_bare, trivial, n, 2), _best(_bare, trivial, 2 * n, 2)
        print(f"trivial fn, 2 workers, {n} points: sweep {1e3 * t1 / n:.2f} ms/point "
              f"(marginal {1e3 * (t2 - t1) / n:.2f} ms/point, target < 10), bare pool "
              f"{1e3 * b1 / n:.2f} ms/point (marginal {1e3 * (b2 - b1) / n:.2f})")

        _calibrate()
        cold = _sweep(spin, m, 2, tmp)
        one, two, loop, pool, parent = [], [], [], [], []
        for _ in range(rounds):
            one.append(_sweep(spin, m, 1, tmp))
            c0 = time.process_time()
            two.append(_sweep(spin, m, 2, tmp))
            parent.append((time.process_time() - c0) / m)
            loop.append(_loop(spin, m))
            pool.append(_bare(spin, m, 2))
        ms = 1e3 * np.median(one) / m
        case = "40 ms points, 2 workers vs 1 (wall)"
        sweep_x = ratio("sweep", case, two, one, "biosim.sweep 1 worker",
                        biosim="biosim.sweep 2 workers")
        pool_x = ratio("sweep", case, pool, loop, "plain loop", biosim="ProcessPoolExecutor(2)")
        print(f"CPU-bound fn ({ms:.0f} ms/point), {m} points, "
              f"{rounds} alternating rounds: 2 workers vs 1: sweep {sweep_x} "
              f"(target >= 1.7), bare pool {pool_x}; first 2-worker sweep (cold "
              f"workers) {1e3 * cold:.0f} ms against {ms * m / 2:.0f} "
              f"ms of work per worker; the calling process used {1e3 * np.median(parent):.2f} "
              f"ms of CPU per point with 2 workers")
        print(f"machine load (1/5/15 min): {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
              f"on {os.cpu_count()} cores")

        from dask.distributed import LocalCluster

        k = n // 4
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cl:
            _sweep(trivial, 4, None, tmp, backend="dask", address=cl)  # warm the workers
            d1 = _best(_sweep, trivial, k, None, tmp, backend="dask", address=cl)
        print(f"dask LocalCluster (2 processes), trivial fn, {k} points: "
              f"{1e3 * d1 / k:.2f} ms/point")


if __name__ == "__main__":
    main()
