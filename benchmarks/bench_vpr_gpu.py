"""VPRSNN training on the GPU (torch backend) against numba on all the machine's cores, one run.

The work: modules of ``n_e`` = 400 excitatory neurons and 784 inputs at dt 0.5 ms, each
shown its own training presentations (350 ms image + 150 ms rest, STDP on), all modules
started from one module pre-trained by numba (2 epochs of 50 presentations), so that numba,
whose cost follows the spikes, is timed on a typically sparse network; the torch step is
dense and costs the same whatever fires. Per presentation of every module: wall-clock
seconds, warm-up (graph capture, compilation) excluded, ``torch.cuda.synchronize`` around
each timing; numba with ``n_jobs = os.cpu_count()`` threads (one module per thread).
Torch variants: ``eager`` (kernel by kernel), ``graph`` (each presentation replayed from a
CUDA graph), ``compile`` (the step fused by ``torch.compile``), ``graph+compile`` (fused,
then captured).
Projection: the modular Nordland protocol of ICRA 2023, 132 modules x 3,000 training
presentations (25 places x 2 traverses x 60 epochs), with the fastest variant at 132 modules.

Without CUDA the GPU part is skipped (one line) and a tiny CPU version runs (torch eager on
the CPU against numba), so that the script can be smoke-tested anywhere. ``--budget S``:
variants that would start after S seconds are skipped (default 330, for a 10-minute
device call that also runs the CUDA tests). ``BIOSIM_BENCH_QUICK=1``: fewer presentations.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import QUICK, header  # noqa: E402

PROTOCOL = (132, 3000)   # modules, training presentations per module (ICRA 2023, Nordland)


def images(n: int = 25) -> list[np.ndarray]:
    """Preprocessed synthetic route frames (n, 784), two traverses, grey levels."""
    from biosim.vpr.preprocess import preprocess
    from biosim.vpr.synthetic import synthetic_route

    ds = synthetic_route(n, ("summer", "autumn"), seed=0)
    return [preprocess(t.images).reshape(n, -1).astype(float) for t in ds.references]


def pretrained(params, n_e: int, x: list[np.ndarray], epochs: int) -> dict:
    from biosim.vpr.snn_numba import NumbaVPRSNN

    net = NumbaVPRSNN(1, 784, n_e, params, seed=1)
    for _ in range(epochs):
        for traverse in x:
            net.present([traverse], True)
    return {k: v.copy() for k, v in net.modules[0].items()}


def per_presentation(net, frames: np.ndarray, n: int, sync) -> tuple[float, float]:
    """Wall seconds per presentation (every module shown one image), over ``n`` images
    after one untimed warm-up image, and the mean spikes per module and image (the same
    work on both backends: their counts should be alike)."""
    modules = net.n_modules
    net.present([frames[:1]] * modules, True)            # warm-up: capture, compile, caches
    sync()
    t0 = time.perf_counter()
    counts = net.present([frames[1:1 + n]] * modules, True)
    sync()
    return (time.perf_counter() - t0) / n, float(np.mean([c.sum(1).mean() for c in counts]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=330.0, help="seconds (default 330)")
    args = parser.parse_args(argv)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(os.cpu_count()))
    import torch

    from biosim.vpr.snn_numba import NumbaVPRSNN, SNNParams
    from biosim.vpr.snn_torch import TorchVPRSNN

    start = time.perf_counter()
    cuda = torch.cuda.is_available()
    params = SNNParams()
    x = images()
    frames = x[0]
    cores = os.cpu_count()
    if cuda:
        sizes, n_e, n, epochs = (1, 33, 132), 400, (2 if QUICK else 3), 2
        variants = [("graph+compile", dict(graph=True, compile=True)),
                    ("compile", dict(compile=True)), ("graph", dict(graph=True)),
                    ("eager", {})]
    else:
        print("CUDA not available: GPU part skipped; a tiny CPU version of the same run "
              "follows (torch eager on the CPU, n_e = 20)")
        torch.set_num_threads(1)
        sizes, n_e, n, epochs = (1, 2), 20, 1, 1
        variants = [("eager", {})]
    header(f"VPRSNN training, n_e = {n_e}, 784 inputs, dt = {params.dt} ms; wall seconds "
           f"per presentation of every module (mean of {n}, after a warm-up)")
    if cuda:
        print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
              f"CUDA {torch.version.cuda}; numba on {cores} cores")
    module = pretrained(params, n_e, x, epochs)

    rows = {}   # (implementation, modules) -> seconds per presentation
    for B in sorted(sizes, reverse=True):
        net = NumbaVPRSNN(B, 784, n_e, params, seed=3, n_jobs=cores)
        net.set_modules([module] * B)
        rows["numba", B], spikes = per_presentation(net, frames, n, lambda: None)
        print(f"numba ({cores} threads) {B:>4} modules: {rows['numba', B]:.4f} s, "
              f"{spikes:.1f} spikes per module and image", flush=True)
        del net
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    device = "cuda" if cuda else "cpu"
    for B in sorted(sizes, reverse=True):
        for name, kw in variants:
            if time.perf_counter() - start > args.budget:
                print(f"torch {name:<13} {B:>4} modules: skipped (over the {args.budget:.0f} s "
                      "budget)")
                continue
            t0 = time.perf_counter()
            try:
                net = TorchVPRSNN(B, 784, n_e, params, seed=3, device=device, **kw)
                net.set_modules([module] * B)
                rows[name, B], spikes = per_presentation(net, frames, n, sync)
            except Exception as e:   # a variant that fails on this machine: say so, go on
                print(f"torch {name:<13} {B:>4} modules: FAILED ({type(e).__name__}: "
                      f"{str(e).splitlines()[0][:200]})")
                continue
            finally:
                net = None
                if cuda:
                    torch.cuda.empty_cache()
            # the fewest bytes a dense step moves: read W (4 B) and the delay (1 B), write W
            floor = 9 * B * 784 * n_e * (params.present_steps + params.rest_steps)
            print(f"torch {name:<13} {B:>4} modules: {rows[name, B]:.4f} s, {spikes:.1f} spikes "
                  f"per module and image, {floor / rows[name, B] / 1e9:.1f} GB/s of the "
                  f"9-byte floor (warm-up included: {time.perf_counter() - t0:.0f} s)",
                  flush=True)

    print("\nsummary: seconds per presentation (every module one image); numba / best torch")
    names = ["numba"] + [name for name, _ in variants]
    print(f"{'modules':>7} " + " ".join(f"{name:>14}" for name in names) + f" {'ratio':>7}")
    for B in sizes:
        best = min((rows[name, B] for name, _ in variants if (name, B) in rows), default=None)
        cells = " ".join(f"{rows[name, B]:14.4f}" if (name, B) in rows else f"{'-':>14}"
                         for name in names)
        ratio = f"{rows['numba', B] / best:6.2f}x" if best else "      -"
        print(f"{B:>7} {cells} {ratio}")
    B, steps = PROTOCOL
    if ("numba", B) in rows:
        best = min(((rows[name, B], name) for name, _ in variants if (name, B) in rows),
                   default=None)
        numba_min = steps * rows["numba", B] / 60
        if best:
            print(f"projection, {B} modules x {steps} presentations: torch {best[1]} "
                  f"{steps * best[0] / 60:.1f} min, numba on {cores} cores {numba_min:.1f} min "
                  f"({rows['numba', B] / best[0]:.2f}x)")
    else:
        print(f"projection ({PROTOCOL[0]} modules x {PROTOCOL[1]} presentations): needs CUDA")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
