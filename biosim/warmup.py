"""Compile biosim's numba kernels into numba's cache, so that a user's first run loads them
(a fraction of a second) instead of compiling them (seconds).

``make`` runs ``python -m biosim.warmup`` after installing. numba caches beside the source
files (``__pycache__``; ``NUMBA_CACHE_DIR`` elsewhere), so this must run with the same
installation and user as the later runs. Each step is a tiny model of one family, with the
argument types a real run passes; ``python -m biosim.warmup neurons oscillators`` warms
only those.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np


def neurons():
    """Izhikevich networks (fused kernel: dense, CSR, delays, threads; the generic loop),
    LIF, plasticity kernels."""
    import numba

    import biosim as bs
    from biosim.neurons import LIF, Izhikevich
    from biosim.neurons import fused

    def izhikevich(fused_path):
        net = bs.Network(dt=1.0, seed=0)
        e = net.add(Izhikevich.heterogeneous(40, "excitatory", name="exc"))
        i = net.add(Izhikevich.heterogeneous(10, "inhibitory", name="inh"))
        net.connect(e, [e, i], weight=bs.uniform(0.0, 0.5))
        net.connect(i, [e, i], bs.fixed_probability(0.5), weight=bs.uniform(-1.0, 0.0),
                    delay=1.0)
        net.connect(i, e, bs.fixed_probability(0.3), weight=-0.5,
                    delay=lambda rng, n: rng.integers(0, 3, n).astype(float))
        net.add(bs.GaussianNoise(e, 5.0))
        net.add(bs.GaussianNoise(i, 2.0))
        net.add(bs.ConstantCurrent(e, 1.0))
        net.monitor(e)
        net.monitor(i, "rate")
        net.monitor(e, "v", indices=[0])
        net.run(20.0, fused=fused_path)

    izhikevich(False)
    izhikevich(True)
    before = fused.PARALLEL_MIN_UNITS, os.environ.get("BIOSIM_THREADS")
    fused.PARALLEL_MIN_UNITS = 0  # the threaded kernels, as BIOSIM_THREADS=2 uses them
    os.environ["BIOSIM_THREADS"] = "2"
    try:
        if numba.config.NUMBA_NUM_THREADS > 1:
            izhikevich(True)
    finally:
        fused.PARALLEL_MIN_UNITS = before[0]
        if before[1] is None:
            del os.environ["BIOSIM_THREADS"]
        else:
            os.environ["BIOSIM_THREADS"] = before[1]
    net = bs.Network(dt=0.1, seed=0)
    cells = net.add(LIF(20))
    net.connect(cells, cells, bs.fixed_probability(0.2), weight=0.5, rule=bs.STDP())
    net.add(bs.ConstantCurrent(cells, 20.0))
    net.run(5.0)


def oscillators():
    """Kuramoto: mean field, dense and CSR coupling, Euler and RK4, noise."""
    import scipy.sparse as sp

    from biosim.oscillators import simulate

    rng = np.random.default_rng(0)
    theta, omega = rng.uniform(0, 2 * np.pi, 20), rng.normal(0, 1, 20)
    W = rng.uniform(0, 0.1, (20, 20))
    for coupling in (None, W, sp.csr_matrix(W)):
        for method in ("rk4", "euler"):
            simulate(theta, omega, 0.01, 5, K=1.0, coupling=coupling, method=method)
    simulate(theta, omega, 0.01, 5, K=1.0, sigma=0.1, method="euler", seed=0)


def memory():
    from biosim.memory import CliqueNetwork, noise

    msgs = noise.random_messages(20, 4, 16, seed=0)
    net = CliqueNetwork(4, 16).store(msgs)
    cues = noise.to_activity(noise.erase_clusters(msgs, 2, seed=1), 16)
    for rule in ("sos", "som"):
        net.retrieve(cues, rule=rule)


def dendrites():
    from biosim.dendrites import montecarlo as mc

    mc.false_match_rate(256, 20, 10, 3, 100, seed=0)
    mc.false_negative_rate(256, 20, 10, 5, 4, 100, seed=0)
    mc.union_false_match_rate(256, 20, 10, 5, 3, 100, seed=0)


STEPS = {"neurons": neurons, "oscillators": oscillators, "memory": memory,
         "dendrites": dendrites}


def main(argv=None) -> None:
    names = (sys.argv[1:] if argv is None else argv) or list(STEPS)
    for name in names:
        t = time.perf_counter()
        STEPS[name]()
        print(f"biosim.warmup: {name} {time.perf_counter() - t:.1f} s", flush=True)


if __name__ == "__main__":
    main()
