"""Clique memory speed: stored messages/s and retrievals/s (c = 8, l = 256, M = 15,000, 4 of 8
clusters erased, 4 iterations) for biosim's bit-packed numba kernels against the
straightforward NumPy implementation of the same algorithm (biosim.memory.reference), timed in
one process. BIOSIM_BENCH_QUICK=1 selects small sizes."""
import os
import time

import numpy as np

from biosim.memory import CliqueNetwork, noise
from biosim.memory.reference import retrieve_dense, store_dense


def _rate(fn, count, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return count / best


def main():
    quick = os.environ.get("BIOSIM_BENCH_QUICK") == "1"
    c, l, M = (8, 64, 1000) if quick else (8, 256, 15000)
    n_numba, n_numpy = (2000, 200) if quick else (20000, 500)
    rng = np.random.default_rng(0)
    msgs = noise.random_messages(M, c, l, rng)
    CliqueNetwork(c, l).store(msgs[:10]).retrieve(msgs[:2])  # compile outside the timing

    store_nb = _rate(lambda: CliqueNetwork(c, l).store(msgs), M)
    store_np = _rate(lambda: store_dense(np.zeros((c * l, c * l), bool), msgs, l), M)
    net = CliqueNetwork(c, l).store(msgs)
    W = net.dense_weights()
    assert np.array_equal(W, store_dense(np.zeros_like(W), msgs, l))
    W = W.astype(np.float32)  # the NumPy peer's fastest dtype, converted once
    print(f"c={c} l={l} M={M}: density {net.density():.4f}")
    print(f"store     numba {store_nb:12,.0f} msg/s   numpy {store_np:10,.0f} msg/s   "
          f"ratio {store_nb / store_np:6.1f}x")
    truth = msgs[rng.integers(0, M, n_numba)]
    cues = noise.to_activity(noise.erase_clusters(truth, 4, rng), l)
    for rule in ("sos", "som"):
        out = net.retrieve(cues, rule=rule)
        rate_nb = _rate(lambda: net.retrieve(cues, rule=rule), n_numba)
        flat = cues[:n_numpy].reshape(n_numpy, -1)
        rate_np = _rate(lambda: retrieve_dense(W, flat, c, l, 1.0, 4, rule), n_numpy)
        same = np.array_equal(out[:n_numpy].reshape(n_numpy, -1),
                              retrieve_dense(W, flat, c, l, 1.0, 4, rule))
        err = np.mean(np.any(out.argmax(-1) != truth, axis=1) | (out.sum(-1) != 1).any(1))
        print(f"retrieve {rule} numba {rate_nb:12,.0f} cue/s   numpy {rate_np:10,.0f} cue/s   "
              f"ratio {rate_nb / rate_np:6.1f}x   error {err:.4f}   identical {same}")


if __name__ == "__main__":
    main()
