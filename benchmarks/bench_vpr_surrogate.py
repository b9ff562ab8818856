"""SurrogatePlaceRecognizer: training time per epoch and queries per second, CPU (1 and 2 torch
threads, alternating rounds in one process) and GPU where one is available.

Data: the first ``n`` lit Nordland places (summer + winter, 64x32), or the synthetic route
when the frames are absent. Training: one epoch of the default network (6 time steps, batches
of 128 places, BPTT), timed after a warm-up epoch; the full protocol's training time is
``epochs run x seconds per epoch`` (``benchmarks/vpr_surrogate_table.py`` records the real one).
Queries/s: descriptors of ``n`` query images (preprocessing included), best of the rounds.
The machine's load average is printed: on a shared 2-core machine two OpenMP threads can be
far slower than one (a descheduled thread stalls the other at every barrier).
``BIOSIM_BENCH_QUICK=1``: 256 places, one round.
"""
from __future__ import annotations

import os
import time

QUICK = os.environ.get("BIOSIM_BENCH_QUICK") == "1"


def _data(n):
    from biosim.vpr.datasets import load_nordland, nordland_root

    root = nordland_root()
    if root.is_dir():
        ds = load_nordland(root, "summer", "winter", drop_dark=20.0, count=n)
        return "Nordland", [ds.reference, ds.query]
    from biosim.vpr.synthetic import synthetic_route

    ds = synthetic_route(n, ("summer", "winter"), seed=0)
    return "synthetic route", [ds.reference, ds.query]


def _epoch_s(travs, device):
    from biosim.vpr.surrogate import SurrogatePlaceRecognizer

    model = SurrogatePlaceRecognizer(epochs=2, device=device, seed=0).fit(travs)
    return model.history_["seconds"][1], model


def _queries_per_s(model, images):
    """(wall-clock, CPU-time) queries per second: on a loaded machine the CPU time of a
    one-thread process is what the work takes on a core of its own."""
    model.descriptors(images)   # warm-up: the first call per batch shape sets up kernels
    t0, c0 = time.perf_counter(), time.process_time()
    model.descriptors(images)
    return (len(images) / (time.perf_counter() - t0), len(images) / (time.process_time() - c0))


def main():
    import torch

    n = 256 if QUICK else 1000
    rounds = 1 if QUICK else 2
    name, travs = _data(n)
    queries = travs[1].images
    print(f"{name}: {n} places x 2 seasons; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores")
    best = {}
    for r in range(rounds):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            epoch, model = _epoch_s(travs, "cpu")
            qps = _queries_per_s(model, queries)
            key = f"cpu, {threads} thread(s)"
            e0, q0, c0 = best.get(key, (float("inf"), 0.0, 0.0))
            best[key] = (min(e0, epoch), max(q0, qps[0]), max(c0, qps[1]))
    if torch.cuda.is_available():
        epoch, model = _epoch_s(travs, "cuda")
        best["cuda"] = (epoch, *_queries_per_s(model, queries))
    else:
        print("no CUDA device here: GPU timings skipped")
    print(f"{'device':<18} {'s / epoch':>10} {'s / 100 places':>15} {'queries/s':>10} "
          f"{'queries/CPU s':>14}")
    for key, (epoch, qps, cps) in best.items():
        print(f"{key:<18} {epoch:10.2f} {100 * epoch / n:15.2f} {qps:10.0f} {cps:14.0f}")
    one, two = best["cpu, 1 thread(s)"], best["cpu, 2 thread(s)"]
    print(f"2 threads / 1 thread: training {one[0] / two[0]:.2f}x faster, queries "
          f"{two[1] / one[1]:.2f}x; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
