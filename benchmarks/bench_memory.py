"""Clique memory speed: stored messages/s and retrievals/s (c = 8, l = 256, M = 15,000, 4 of 8
clusters erased, 4 iterations) for biosim's bit-packed numba kernels against the strongest
straightforward NumPy: the store in one vectorised fancy-index assignment, sum-of-sum
retrieval of all cues at once as float32 matrix products (BLAS), sum-of-max retrieval one
cue at a time (biosim.memory.reference; batching it needs a (cues, l, n) temporary). The
same results are checked (identical weights, identical retrieved activity). CPU time of
this process, alternating rounds, median [min-max]. BIOSIM_BENCH_QUICK=1: small sizes."""
import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _common import QUICK, cpu, header, ratio, rounds  # noqa: E402

from biosim.memory import CliqueNetwork, noise  # noqa: E402
from biosim.memory.reference import retrieve_dense  # noqa: E402


def store_numpy(msgs, c, l):
    """The dense bool (c l, c l) clique matrix of all messages, vectorised."""
    idx = np.arange(c) * l + msgs                       # (M, c) neuron indices
    W = np.zeros((c * l, c * l), bool)
    W[idx[:, :, None], idx[:, None, :]] = True
    np.fill_diagonal(W, False)
    return W


def retrieve_sos_numpy(W, activity, c, l, gamma=1.0, iterations=4):
    """Sum-of-sum + winner-take-all for all cues at once (W float32); iterating a cue that is
    already stable leaves it unchanged, so this equals the one-cue-at-a-time loop."""
    v = activity.astype(np.float32)
    for _ in range(iterations):
        s = (v @ W + gamma * v).reshape(len(v), c, l)
        new = (s == s.max(axis=2, keepdims=True)).reshape(len(v), -1).astype(np.float32)
        if np.array_equal(new, v):
            break
        v = new
    return v.astype(bool)


def main():
    c, l, M = (8, 64, 1000) if QUICK else (8, 256, 15000)
    n_cues, n_loop = (2000, 200) if QUICK else (20000, 500)
    header("Clique memory, one core, CPU time")
    rng = np.random.default_rng(0)
    msgs = noise.random_messages(M, c, l, rng)
    CliqueNetwork(c, l).store(msgs[:10]).retrieve(msgs[:2])  # compile outside the timing
    net = CliqueNetwork(c, l).store(msgs)
    W = store_numpy(msgs, c, l)
    same = np.array_equal(net.dense_weights(), W)
    r = rounds({"biosim": lambda: cpu(lambda: CliqueNetwork(c, l).store(msgs))[0],
                "numpy": lambda: cpu(store_numpy, msgs, c, l)[0]}, 5)
    print(f"c={c} l={l} M={M}: density {net.density():.4f}")
    rate = lambda t, k: f"{k / np.median(t):12,.0f}"  # noqa: E731
    print(f"store      numba {rate(r['biosim'], M)} msg/s   numpy (vectorised) "
          f"{rate(r['numpy'], M)} msg/s   ratio "
          f"{ratio('memory', 'store', r['biosim'], r['numpy'], 'NumPy vectorised')}   "
          f"identical {same}")
    W = W.astype(np.float32)  # the NumPy peer's fastest dtype, converted once
    truth = msgs[rng.integers(0, M, n_cues)]
    cues = noise.to_activity(noise.erase_clusters(truth, 4, rng), l)
    flat = cues.reshape(n_cues, -1)
    for rule in ("sos", "som"):
        out = net.retrieve(cues, rule=rule)
        if rule == "sos":
            peer, k = (lambda: retrieve_sos_numpy(W, flat, c, l)), n_cues
            name = "NumPy batched BLAS"
        else:
            peer, k = (lambda: retrieve_dense(W, flat[:n_loop], c, l, 1.0, 4, rule)), n_loop
            name = "NumPy per cue"
        same = np.array_equal(out[:k].reshape(k, -1), peer())
        r = rounds({"biosim": lambda: cpu(net.retrieve, cues, rule=rule)[0] / n_cues,
                    "numpy": lambda: cpu(peer)[0] / k}, 3)
        err = np.mean(np.any(out.argmax(-1) != truth, axis=1) | (out.sum(-1) != 1).any(1))
        print(f"retrieve {rule} numba {rate(r['biosim'], 1)} cue/s   {name} "
              f"{rate(r['numpy'], 1)} cue/s   ratio "
              f"{ratio('memory', f'retrieve {rule}', r['biosim'], r['numpy'], name)}   "
              f"error {err:.4f}   identical {same}")


if __name__ == "__main__":
    main()
