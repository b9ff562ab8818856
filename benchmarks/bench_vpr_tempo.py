"""VPRTempo-speed mode vs VPRSNN: training time and queries per second on one CPU core.

Same data for both: the synthetic route (``n`` places, references summer + autumn, query
winter), 28x28 patch-normalised images. ``TempoPlaceRecognizer`` trains under its full
protocol (4 epochs per layer, one module of up to 1,000 places).
``SpikingPlaceRecognizer`` (numba backend, modules of 100 places, 400 neurons each) is timed
with 0 epochs (the labelling pass only) and 1 epoch; its RA-L protocol (60 epochs) is
extrapolated as ``t0 + 60 (t1 - t0)``. Queries/s: one ``predict`` over all ``n`` queries
(after a warm-up). Sizes 100 and 500 places (``BIOSIM_BENCH_QUICK=1``: 20 and 50).
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

QUICK = os.environ.get("BIOSIM_BENCH_QUICK") == "1"


def _timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def main():
    import torch

    from biosim.vpr.baselines import sad_similarity
    from biosim.vpr.metrics import recall_at_k
    from biosim.vpr.preprocess import preprocess
    from biosim.vpr.recognizer import SpikingPlaceRecognizer
    from biosim.vpr.synthetic import synthetic_route
    from biosim.vpr.tempo import TempoPlaceRecognizer

    torch.set_num_threads(1)
    sizes = (20, 50) if QUICK else (100, 500)
    # warm-up: numba compilation (cached) and torch kernels
    warm = synthetic_route(5, ("summer", "winter"), seed=9)
    SpikingPlaceRecognizer(module_size=5, epochs=1).fit(warm.reference).predict(warm.query.images)
    TempoPlaceRecognizer(epochs=1).fit(warm.reference).predict(warm.query.images)

    print("one CPU core; synthetic route, references summer + autumn, query winter; 28x28")
    head = (f"{'places':>6} | {'Tempo fit s':>11} {'q/s':>8} {'R@1':>5} {'SAD':>5} | "
            f"{'SNN 0ep s':>9} {'1ep s':>7} {'60ep s*':>9} {'q/s':>7} | {'fit x (60ep)':>12} {'fit x (1ep)':>11}"
            f" {'q/s x':>7}")
    print(head)
    for n in sizes:
        ds = synthetic_route(n, ("summer", "autumn", "winter"), seed=0)
        refs, q = list(ds.references), ds.query.images
        tempo, t_fit = _timed(lambda: TempoPlaceRecognizer(seed=0).fit(refs))
        tempo.predict(q[:2])
        sim, t_q = _timed(lambda: tempo.predict(q))
        r1 = recall_at_k(sim, ds.ground_truth)
        sad = recall_at_k(sad_similarity(preprocess(ds.reference.images), preprocess(q)),
                          ds.ground_truth)
        _, s0 = _timed(lambda: SpikingPlaceRecognizer(epochs=0, seed=0).fit(refs))
        snn, s1 = _timed(lambda: SpikingPlaceRecognizer(epochs=1, seed=0).fit(refs))
        snn.predict(q[:2])
        _, sq = _timed(lambda: snn.predict(q))
        s60 = s0 + 60 * (s1 - s0)
        print(f"{n:>6} | {t_fit:11.1f} {n / t_q:8.0f} {r1:5.2f} {sad:5.2f} | {s0:9.1f} {s1:7.1f} "
              f"{s60:9.0f} {n / sq:7.1f} | {s60 / t_fit:12.0f} {s1 / t_fit:11.1f} "
              f"{sq / t_q:7.0f}")
    print("* extrapolated: t0 + 60 (t1 - t0). Ratios are SNN time / Tempo time (x > 1: Tempo "
          "faster); 'q/s x' is Tempo queries/s over SNN queries/s. R@1: Tempo's; SAD on the "
          "summer reference and the same preprocessed images.")


if __name__ == "__main__":
    main()
