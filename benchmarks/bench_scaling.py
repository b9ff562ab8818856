"""Sparse Izhikevich networks that scale: N = 10^3 ... 10^6 neurons, 100 synapses per neuron
(80/20, random, weights scaled as in bench_izhikevich), published scheme, dt = 1 ms.

For each N: CPU nanoseconds per synaptic event (run time / (spikes x 100)) over the same
window, from ``WARM`` ms (past the start's transient) to ``WARM`` + the case's duration, for
biosim's fused kernel (one thread; each round runs a copy of the network as it was at
``WARM``) and for the same network written by hand in Brian2 cpp_standalone (one
NeuronGroup, one Synapses holding biosim's very synapses; its binary built once and rerun,
Brian2's own timer of its second run, ``std::clock()``), in alternating rounds, median
[min-max]; the spike counts of both in that window are printed (the noise draws differ, so
they agree in distribution, not spike for spike). From 10^5 neurons on the network fires in
synchronous bursts every ~150 ms (both simulators: rate traces agree within ~2% over 1 s at
10^6): the windows span several bursts, and both simulate the same one. Then biosim with
``BIOSIM_THREADS`` = the cores against one thread, wall time on the same window at N = 10^5
(a loaded machine gives threads less than its cores). Memory: 16 bytes per synapse in the
projections (float64 weight, int64 post index) plus 4 in the kernel (uint32 post index), so
10^6 x 100 is ~2 GB for biosim (peak while connecting ~5 GB); Brian2 ~6 GB. The full run
takes ~15 min on 2 cores (the 10^6 Brian2 build ~3 min).
``BIOSIM_BENCH_QUICK=1``: N up to 10^5, shorter runs. Arguments: only these N (e.g. ``1e5 1e6``).
"""
import copy
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("NUMBA_NUM_THREADS", str(os.cpu_count()))  # (bench_izhikevich: 1)

import numpy as np  # noqa: E402
from _common import QUICK, header, ratio, rounds, spread  # noqa: E402
from bench_izhikevich import brian2_izhikevich, build, run_binary  # noqa: E402

# N -> simulated ms of the timed window (from 10^5 on: several ~150 ms bursts)
SIZES = {1_000: 2000.0, 10_000: 500.0, 100_000: 300.0} if QUICK else \
    {1_000: 10_000.0, 10_000: 2000.0, 100_000: 1000.0, 1_000_000: 500.0}
ROUNDS = 3
WARM = 200.0  # ms run first, untimed (past the start's transient: steady-state windows)


def shared_copy(net):
    """A copy of ``net`` sharing its weight and index arrays (a run changes neither: no
    rules), with the kernel's per-network index arrays built (as on a network's second run):
    every round runs the same window without copying 10^8 synapses."""
    memo = {}
    for pr in net.projections:
        w = pr.weights
        for x in (w.W,) if w.dense else (w.data, w.indices, w.indptr):
            memo[id(x)] = x
    trial = copy.deepcopy(net, memo)
    trial._fused_runner()
    return trial


def brian2_binary(net, duration, workdir):
    """Build ``net`` as a cpp_standalone binary in a fresh process (Brian2's device is global;
    the network travels as a pickle, cheaper than building it again); returns the spikes of
    its first run in the timed window."""
    import pickle

    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, "net.pkl")
    with open(path, "wb") as f:
        pickle.dump(net, f, protocol=pickle.HIGHEST_PROTOCOL)
    out = subprocess.run([sys.executable, __file__, "--brian2", path, str(duration), workdir],
                         capture_output=True, text=True)
    os.remove(path)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return int(out.stdout.split()[-1])


def brian2_worker(path, duration, workdir):
    import pickle

    import brian2 as b2

    with open(path, "rb") as f:
        net = pickle.load(f)
    b2.set_device("cpp_standalone", build_on_run=False, directory=workdir)
    b2.seed(1)
    model, mon = brian2_izhikevich(b2, net, record=True)
    del net
    model.run(WARM * b2.ms)
    model.run(duration * b2.ms)  # the binary's timer: this run only
    b2.device.build(directory=workdir, compile=True, run=True, with_output=False)
    print(int(np.sum(np.asarray(mon.t_) >= WARM * 1e-3)))


def main(only=()):
    import numba

    unknown = sorted(set(only) - set(SIZES))
    if unknown:
        sys.exit(f"bench_scaling: no size {unknown} here; the sizes are {sorted(SIZES)}")

    header("Sparse Izhikevich networks, 100 synapses per neuron, CPU ns per synaptic event")
    threads = numba.get_num_threads()
    print(f"{'N':>9} {'ms':>6} {'biosim ns/event':>24} {'Brian2 cpp ns/event':>24} "
          f"{'ratio':>22} {'spikes biosim':>14} {'spikes Brian2':>14}")
    for n, duration in SIZES.items():
        if only and n not in only:
            continue
        t0 = time.perf_counter()
        net = build(n, 100.0 / n)
        t_build = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as tmp:
            workdir = os.path.join(tmp, "cpp")
            b2_spikes = brian2_binary(net, duration, workdir)
            net.run(WARM)  # as Brian2's first run (and numba compiles or loads its cache)
            counts = []

            def biosim():
                trial = shared_copy(net)  # the network at WARM: Brian2's timed window
                spikes = [trial.monitor(p) for p in trial.populations]
                t = time.process_time()
                trial.run(duration)
                t = time.process_time() - t
                counts.append(sum(int(m.count.sum()) for m in spikes))  # same every round
                return t / (counts[-1] * 100) * 1e9

            r = rounds({"biosim": biosim,
                        "brian2": lambda: run_binary(workdir, b2_spikes)["s"]
                        / (b2_spikes * 100) * 1e9}, ROUNDS)
        label = f"N={n:.0e}"
        x = ratio("scaling", label, r["biosim"], r["brian2"], "Brian2 cpp_standalone",
                  unit="ns/event")
        print(f"{n:>9,} {duration:>6g} {spread(r['biosim']):>24} {spread(r['brian2']):>24} "
              f"{x:>22} {counts[0]:>14,} {b2_spikes:>14,}   (build {t_build:.0f} s)",
              flush=True)
        if threads > 1 and n == 100_000:  # (copies of the network: not at 10^6)
            wall = {1: [], threads: []}
            for _ in range(ROUNDS):  # the same window for each thread count
                for k in wall:
                    os.environ["BIOSIM_THREADS"] = str(k)
                    trial = shared_copy(net)
                    t = time.perf_counter()
                    trial.run(duration)
                    wall[k].append(time.perf_counter() - t)
                    del trial
            x = ratio("scaling", f"{label} {threads} threads", wall[threads], wall[1],
                      "biosim 1 thread", biosim=f"biosim {threads} threads")
            print(f"          {threads} threads vs 1, wall time: {x}  ({spread(wall[1])} s vs "
                  f"{spread(wall[threads])} s)", flush=True)
            del os.environ["BIOSIM_THREADS"]
        del net


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--brian2":
        brian2_worker(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    else:
        main([int(float(x)) for x in sys.argv[1:]])
