"""Izhikevich networks: biosim (fused numba kernel) against Brian2, side by side in one run.

Networks (published scheme, dt = 1 ms, thalamic noise redrawn every ms):
  (a) the 1000-neuron network of Izhikevich (2003) (800/200, all-to-all), 10 s and 100 s;
  (b) a sparse network of 10,000 neurons (80/20, 1% random, delta synapses), 10 s.
Brian2 runs the same network built by ``to_brian2`` (with its own randn noise), in its
cython runtime and in cpp_standalone (compile time reported apart; run = Brian2's own timing
of the simulation loop). Every measurement is a fresh process on one core (NUMBA/OMP
threads = 1). biosim's time is ``net.run`` (not the build) in a fresh process *including*
its first-call numba work: ``cold`` compiles into an empty cache, ``cached`` loads that
cache (numba's own start-up, ~0.3 s, included). ``cython 1st`` includes Brian2's cython
compilation when its cache is cold; cpp_standalone's run is the fastest of 3 runs of its
binary (Brian2's own timing of the loop; process start and I/O apart). The machine is shared:
compare ratios, not absolute times.
Prints seconds, ratios (Brian2 / biosim: > 1 means biosim is faster) and synaptic events/s.
First, the cost of the thalamic noise alone (one normal per neuron and ms, 1e8 draws in
each full-size case): biosim's xoshiro256++ ziggurat (``biosim.core.fastrandom``) against
NumPy's ``Generator.standard_normal``, in ns per draw, filling the same 256 x 1000 block.
``BIOSIM_BENCH_QUICK=1``: small sizes.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

QUICK = os.environ.get("BIOSIM_BENCH_QUICK") == "1"
# name -> (neurons, connection probability or None for all-to-all, durations in ms); the
# sparse network has 100 synapses per neuron (1% of 10,000)
CASES = {
    "2003": (1000, None, [1000.0, 2000.0] if QUICK else [10_000.0, 100_000.0]),
    "sparse": (2000, 0.05, [1000.0]) if QUICK else (10_000, 0.01, [10_000.0]),
}


def build(n, p, seed=1):
    """The 2003 network (p None) or its sparse version: weights scaled by 1000 / (p n) so
    that each neuron's summed input weight matches the 2003 network's."""
    import biosim as bs
    from biosim.neurons import Izhikevich

    n_exc = n * 4 // 5
    net = bs.Network(dt=1.0, seed=seed)
    e = net.add(Izhikevich.heterogeneous(n_exc, "excitatory", name="exc"))
    i = net.add(Izhikevich.heterogeneous(n - n_exc, "inhibitory", name="inh"))
    conn = bs.all_to_all() if p is None else bs.fixed_probability(p)
    scale = 1.0 if p is None else 1000.0 / (p * n)
    net.connect(e, [e, i], conn, weight=bs.uniform(0.0, 0.5 * scale))
    net.connect(i, [e, i], conn, weight=bs.uniform(-scale, 0.0))
    net.add(bs.GaussianNoise(e, 5.0))
    net.add(bs.GaussianNoise(i, 2.0))
    return net


def synaptic_events(net, spike_counts):
    """Spikes times out-degree, summed over projections."""
    import numpy as np

    events = 0
    for proj in net.projections:
        w = proj.weights
        out = np.full(w.n_pre, w.n_post) if w.dense else np.diff(w.indptr)
        events += int(np.dot(spike_counts[proj.pre.name], out))
    return events


def worker(engine, case, duration, workdir):
    """One measurement in this (fresh) process; prints a JSON line."""
    import numpy as np

    n, p, _ = CASES[case]
    net = build(n, p)
    result = {}
    if engine == "biosim":
        for key in ("run", "warm"):  # first run in this process, then a second network
            net = build(n, p) if key == "warm" else net
            mons = {q.name: net.monitor(q) for q in net.populations}
            t0 = time.perf_counter()
            net.run(duration)
            result[key] = time.perf_counter() - t0
        counts = {k: m.count for k, m in mons.items()}
    else:
        import brian2 as b2

        from biosim.neurons.brian2_export import to_brian2

        if engine == "cpp_standalone":
            b2.set_device("cpp_standalone", build_on_run=False, directory=workdir)
        else:
            b2.prefs.codegen.target = "cython"
        b2.seed(1)
        model = to_brian2(net)
        if engine == "cpp_standalone":
            model.run(duration)
            t0 = time.perf_counter()
            b2.device.build(directory=workdir, compile=True, run=False, with_output=False)
            result["compile"] = time.perf_counter() - t0
            runs = []
            for _ in range(3):  # the fastest of 3 runs of the compiled binary
                t0 = time.perf_counter()
                b2.device.run(directory=workdir, with_output=False)
                runs.append((b2.device._last_run_time, time.perf_counter() - t0))
            result["run"], result["wall"] = min(runs)
        else:
            t0 = time.perf_counter()
            model.run(duration)
            result["run"] = time.perf_counter() - t0
        counts = {k: np.bincount(np.asarray(m.i), minlength=net.population(k).n)
                  for k, m in model.spikes.items()}
    result["spikes"] = int(sum(c.sum() for c in counts.values()))
    result["events"] = synaptic_events(net, counts)
    print(json.dumps(result))


def measure(engine, case, duration, env=None, workdir=None):
    cmd = [sys.executable, __file__, "--worker", engine, case, str(duration), workdir or ""]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if out.returncode:
        raise RuntimeError(f"{engine} {case}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def noise_cost(repeats=40):
    """ns per standard normal: fastrandom.fill_normal and NumPy's Generator (best of 3)."""
    import numpy as np

    from biosim.core import fastrandom

    out = np.empty(256 * 1000)
    state, gen = fastrandom.seed_state(np.random.default_rng(0)), np.random.default_rng(0)
    fastrandom.fill_normal(state, out)  # compile or load the cache
    times = {"biosim": [], "numpy": []}
    for _ in range(3):
        for key, fill in (("biosim", lambda: fastrandom.fill_normal(state, out)),
                          ("numpy", lambda: gen.standard_normal(out=out))):
            t0 = time.perf_counter()
            for _ in range(repeats):
                fill()
            times[key].append((time.perf_counter() - t0) / (repeats * out.size) * 1e9)
    return {k: min(v) for k, v in times.items()}


def main():
    print(f"Izhikevich networks, dt = 1 ms, one core{' (QUICK sizes)' if QUICK else ''}")
    ns = noise_cost()
    print(f"standard normals: biosim {ns['biosim']:.2f} ns, NumPy Generator {ns['numpy']:.2f} "
          f"ns per draw ({ns['numpy'] / ns['biosim']:.1f}x)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case, (n, p, durations) in CASES.items():
            for k, duration in enumerate(durations):
                label = f"{case} N={n} {duration / 1000:g} s"
                r = {"case": label}
                cache = {"NUMBA_CACHE_DIR": os.path.join(tmp, f"numba_{case}_{k}")}
                r["biosim cold"] = measure("biosim", case, duration, cache)  # compiles
                r["biosim cached"] = min((measure("biosim", case, duration, cache)
                                          for _ in range(2)), key=lambda m: m["run"])
                if k == 0:  # Brian2's cython cache may be cold for this network
                    r["cython 1st"] = measure("cython", case, duration)
                r["cython"] = measure("cython", case, duration)
                r["cpp"] = measure("cpp_standalone", case, duration,
                                   workdir=os.path.join(tmp, f"cpp_{case}_{k}"))
                rows.append(r)
                show(r)
    print("\nsummary (ratio = Brian2 time / biosim time; > 1: biosim faster)")
    for r in rows:
        b_cold, b_warm = r["biosim cold"]["run"], r["biosim cached"]["run"]
        print(f"  {r['case']:<22} cpp_standalone/biosim: {r['cpp']['run'] / b_cold:5.2f}x "
              f"(biosim compiling), {r['cpp']['run'] / b_warm:5.2f}x (cached); "
              f"cython/biosim: {r['cython']['run'] / b_warm:5.2f}x; in-process steady state "
              f"cpp/biosim {r['cpp']['run'] / r['biosim cached']['warm']:5.2f}x")


def show(r):
    print(f"\n{r['case']}")
    for key in ("biosim cold", "biosim cached", "cython 1st", "cython", "cpp"):
        if key not in r:
            continue
        m = r[key]
        extra = f"  (compile {m['compile']:.1f} s, process {m['wall']:.2f} s)" \
            if "compile" in m else ""
        if "warm" in m:
            extra = f"  (second run in the process {m['warm']:.2f} s)"
        print(f"  {key:<14} run {m['run']:7.2f} s  spikes {m['spikes']:>10,}  "
              f"{m['events'] / m['run']:.3g} syn. events/s{extra}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    else:
        main()
