"""One 100-place VPRSNN module under the RA-L protocol on one CPU core: time and trajectory.

The RA-L protocol (Hussaini, Milford & Fischer 2022): 400 excitatory neurons learn 100
places from two reference traverses over 60 epochs (12,000 training presentations of
350 ms + 150 ms rest), then every reference image is shown once with frozen weights
(labelling, 200 presentations) and the 100 query images once (100 presentations). Here the
two traverses are the Nordland summer and winter frames of the first 100 lit places (the
paper: spring and fall; only summer and winter are in ``nordland_trimmed``), and the queries
are the summer images again (this file measures time and the learning trajectory, not
recall: see ``vpr_nordland.py``).

Prints, per epoch, the CPU seconds, the spikes per training image and the threshold range
(theta, mV), and at the end the minutes per module (CPU time of this process, numba on one
thread) and the machine's load. The paper's end state (its Brian2 code at dt 0.1 ms):
theta 39-42 mV and about 17 spikes per image.

    python benchmarks/vpr_snn_module.py --dt 0.1          # ~6 min (dt 0.5: ~2 min)
    python benchmarks/vpr_snn_module.py --dt 0.5 --epochs 60
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402

QUICK = os.environ.get("BIOSIM_BENCH_QUICK") == "1"


def main(argv=None):
    from _common import load

    from biosim.vpr.datasets import load_nordland, nordland_root
    from biosim.vpr.preprocess import preprocess
    from biosim.vpr.snn_numba import NumbaVPRSNN, SNNParams

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dt", type=float, default=0.1, help="time step (ms); 0.1 = RA-L")
    ap.add_argument("--epochs", type=int, default=2 if QUICK else 60)
    ap.add_argument("--places", type=int, default=100)
    ap.add_argument("--neurons", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    ds = load_nordland(nordland_root(), "summer", "winter", count=a.places, drop_dark=20.0)
    trav = [preprocess(t.images).reshape(a.places, -1).astype(float)
            for t in (ds.reference, ds.query)]
    x = np.concatenate(trav)                         # one epoch: summer then winter
    params = SNNParams(dt=a.dt)
    NumbaVPRSNN(1, x.shape[1], 4, params, seed=0).present([x[:1]], True)    # compile
    NumbaVPRSNN(1, x.shape[1], 4, params, seed=0).present([x[:1]], False)
    net = NumbaVPRSNN(1, x.shape[1], a.neurons, params, seed=a.seed)
    print(f"VPRSNN module: {a.places} places x 2 traverses, {a.neurons} neurons, dt {a.dt} ms, "
          f"{a.epochs} epochs; {load()}")
    print(f"{'epoch':>5} {'CPU s':>7} {'ms/pres':>8} {'spikes/img':>10} {'theta mV':>13}")
    t_train = 0.0
    for e in range(a.epochs):
        t0 = time.process_time()
        c = net.present([x], True)[0]
        dt_cpu = time.process_time() - t0
        t_train += dt_cpu
        th = net.modules[0]["theta"]
        print(f"{e + 1:5d} {dt_cpu:7.2f} {1e3 * dt_cpu / len(x):8.2f} {c.sum(1).mean():10.1f} "
              f"{th.min():6.2f}-{th.max():6.2f}", flush=True)
    net.reset_state()
    t0 = time.process_time()
    c = net.present([np.concatenate([x, trav[0]])], False)[0]
    t_frozen = time.process_time() - t0
    n_train = a.epochs * len(x)
    print(f"frozen: {len(c)} presentations (labelling + queries), {c.sum(1).mean():.1f} "
          f"spikes per image, {1e3 * t_frozen / len(c):.2f} ms each")
    print(f"module: {(t_train + t_frozen) / 60:.2f} min CPU ({n_train} training presentations "
          f"at {1e3 * t_train / max(n_train, 1):.2f} ms, {len(c)} frozen); {load()}")


if __name__ == "__main__":
    main()
