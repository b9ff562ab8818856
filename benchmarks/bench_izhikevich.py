"""Izhikevich networks: biosim (fused numba kernel) against Brian2, CPU time against CPU time.

Networks (published scheme, dt = 1 ms, thalamic noise redrawn every ms):
  (a) the 1000-neuron network of Izhikevich (2003) (800/200, all-to-all), 10 s and 100 s;
  (b) a sparse network of 10,000 neurons (80/20, 1% random, delta synapses), 10 s.
The peer is the Brian2 model a competent user writes by hand: one ``NeuronGroup`` (the
published half-steps in one ``run_regularly``, noise ``sd * randn()``), one ``Synapses``
with biosim's very synapses and weights, in cpp_standalone (its binary built once; its time
is Brian2's own timer of the simulation loop, ``std::clock()``, i.e. CPU time) and in the
cython runtime (warm cache, in-process time of ``run``). biosim's time is the CPU time
(``time.process_time``) of ``net.run`` in a fresh process that loads numba's cache
(``fresh``; with the extra CPU time of building its first network over a second one, so
numba's start-up counts wherever it lands), of a second ``run`` in that process
(``steady``), and once of a fresh process compiling into an empty cache (``cold``). Rounds
alternate biosim and the cpp binary; each figure is the median [min-max] over rounds, ratios
paired round by round (Brian2 / biosim: > 1 means biosim is faster). The noise differs (Brian2 draws its own), so the same work is
checked by the spike counts, printed side by side. NUMBA/OMP threads = 1.
``BIOSIM_BENCH_QUICK=1``: small sizes.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from _common import QUICK, header, ratio, rounds, spread  # noqa: E402

ROUNDS = 3
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


def brian2_izhikevich(b2, net, record=False):
    """``net`` (built by :func:`build`) as one Brian2 group and one Synapses object, written
    as a Brian2 user would: Izhikevich's published half-steps, Brian2's own noise; a spike
    monitor that counts (``record``: also keeps spike times)."""
    import numpy as np

    pops = net.populations
    off = dict(zip([p.name for p in pops], np.cumsum([0] + [p.n for p in pops])))
    G = b2.NeuronGroup(sum(p.n for p in pops), """
        v : 1
        u : 1
        Isyn : 1
        a : 1 (constant)
        b : 1 (constant)
        c : 1 (constant)
        d : 1 (constant)
        sd : 1 (constant)""", threshold="v >= 30", reset="v = c; u = u + d",
        dt=net.dt * b2.ms, name="izh")
    G.run_regularly("""
        I = Isyn + sd * randn()
        v = v + 0.5 * (0.04 * v * v + 5 * v + 140 - u + I)
        v = v + 0.5 * (0.04 * v * v + 5 * v + 140 - u + I)
        u = u + a * (b * v - u)
        Isyn = 0""", when="groups")
    cat = lambda f: np.concatenate([f(p) for p in pops])  # noqa: E731
    for k in "abcd":
        setattr(G, k, cat(lambda p: p.params[k]))
    G.v, G.u = cat(lambda p: p.state["v"]), cat(lambda p: p.state["u"])
    sd = {q.target.name: q.std for q in net.inputs}
    G.sd = cat(lambda p: np.broadcast_to(sd[p.name], p.n))
    w = [pr.weights for pr in net.projections]
    pre = np.concatenate([off[pr.pre.name] + x.pre_of for pr, x in zip(net.projections, w)])
    post = np.concatenate([off[pr.post.name] + x.post_of
                           for pr, x in zip(net.projections, w)])
    S = b2.Synapses(G, G, "w : 1", on_pre="Isyn_post += w", dt=net.dt * b2.ms)
    S.connect(i=pre, j=post)
    S.w = np.concatenate([x.flat_values() for x in w])
    mon = b2.SpikeMonitor(G, record=record)
    return b2.Network(G, S, mon), mon


def worker(engine, case, duration, workdir):
    """One measurement in this (fresh) process; prints a JSON line."""
    n, p, _ = CASES[case]
    result = {}
    if engine == "biosim":
        import biosim.neurons  # noqa: F401  (imports are not timed: the binary's load is not)

        built = {}
        for key in ("s", "steady"):  # a first network and run in this process, then a second
            t0 = time.process_time()
            net = build(n, p)
            built[key] = time.process_time() - t0
            mons = [net.monitor(q) for q in net.populations]
            t0 = time.process_time()
            net.run(duration)
            result[key] = time.process_time() - t0
        # the first use of numba in a process (its start-up, loading the cache) costs the
        # same wherever it lands: in the run, or in the build when connecting uses a kernel
        result["s"] += max(built["s"] - built["steady"], 0.0)
        result["spikes"] = int(sum(m.count.sum() for m in mons))
    else:
        net = build(n, p)
        import brian2 as b2

        if engine == "cpp_standalone":
            b2.set_device("cpp_standalone", build_on_run=False, directory=workdir)
        else:
            b2.prefs.codegen.target = "cython"
        b2.seed(1)
        model, mon = brian2_izhikevich(b2, net)
        if engine == "cpp_standalone":
            model.run(duration * b2.ms)
            t0 = time.perf_counter()
            b2.device.build(directory=workdir, compile=True, run=False, with_output=False)
            result["compile"] = time.perf_counter() - t0
            b2.device.run(directory=workdir, with_output=False)
            result["s"] = b2.device._last_run_time
        else:
            model.run(10 * b2.ms)  # code generation and compilation outside the timing
            t0 = time.process_time()
            model.run(duration * b2.ms)
            result["s"] = time.process_time() - t0
        result["spikes"] = int(mon.num_spikes)
    result["events"] = synaptic_events(net, result["spikes"])
    print(json.dumps(result))


def synaptic_events(net, spikes):
    """Spikes times the mean out-degree (every neuron here has about the same)."""
    n = sum(p.n for p in net.populations)
    return spikes * sum(pr.weights.n_synapses for pr in net.projections) / n


def measure(engine, case, duration, env=None, workdir=None):
    cmd = [sys.executable, __file__, "--worker", engine, case, str(duration), workdir or ""]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if out.returncode:
        raise RuntimeError(f"{engine} {case}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_binary(workdir, spikes):
    """Run the built cpp_standalone binary again; Brian2's own timing of the loop."""
    subprocess.run(["./main"], cwd=workdir, check=True, capture_output=True)
    with open(os.path.join(workdir, "results", "last_run_info.txt")) as f:
        return {"s": float(f.read().split()[0]), "spikes": spikes}


def noise_cost(repeats=40):
    """ns per standard normal: fastrandom.fill_normal and NumPy's Generator (median)."""
    import numpy as np

    from biosim.core import fastrandom

    out = np.empty(256 * 1000)
    state, gen = fastrandom.seed_state(np.random.default_rng(0)), np.random.default_rng(0)
    fastrandom.fill_normal(state, out)  # compile or load the cache

    def timer(fill):
        def run():
            t0 = time.process_time()
            for _ in range(repeats):
                fill()
            return (time.process_time() - t0) / (repeats * out.size) * 1e9
        return run

    return rounds({"biosim": timer(lambda: fastrandom.fill_normal(state, out)),
                   "numpy": timer(lambda: gen.standard_normal(out=out))}, 5)


def main():
    header("Izhikevich networks, dt = 1 ms, one core, CPU time")
    ns = noise_cost()
    r = ratio("izhikevich", "normals", ns["biosim"], ns["numpy"], "NumPy Generator", unit="ns")
    print(f"standard normals, ns per draw: biosim {spread(ns['biosim'])}, NumPy Generator "
          f"{spread(ns['numpy'])} ({r})")
    with tempfile.TemporaryDirectory() as tmp:
        for case, (n, p, durations) in CASES.items():
            for k, duration in enumerate(durations):
                label = f"{case} N={n} {duration / 1000:g} s"
                print(f"\n{label}")
                cache = {"NUMBA_CACHE_DIR": os.path.join(tmp, f"numba_{case}_{k}")}
                workdir = os.path.join(tmp, f"cpp_{case}_{k}")
                cold = measure("biosim", case, duration, cache)  # compiles
                cpp0 = measure("cpp_standalone", case, duration, workdir=workdir)
                r = rounds({"biosim": lambda: measure("biosim", case, duration, cache),
                            "cpp": lambda: run_binary(workdir, cpp0["spikes"])}, ROUNDS)
                if k == 0:  # the cython runtime: one warm measurement per network
                    r["cython"] = [measure("cython", case, duration)]
                b = r["biosim"]
                steady = [x["steady"] for x in b]
                rows = [("biosim fresh", [x["s"] for x in b], b[0]["spikes"]),
                        ("biosim steady", steady, None),
                        ("biosim cold", [cold["s"]], cold["spikes"]),
                        ("cpp_standalone", [x["s"] for x in r["cpp"]], cpp0["spikes"])]
                if "cython" in r:
                    rows.append(("cython", [r["cython"][0]["s"]], r["cython"][0]["spikes"]))
                for name, t, spikes in rows:
                    sp = "" if spikes is None else f"  spikes {spikes:>10,}"
                    print(f"  {name:<15} CPU {spread(t)} s{sp}")
                if p is None and n == 1000:
                    print(f"  (compile of the binary {cpp0['compile']:.1f} s)")
                print(f"  spikes Brian2/biosim {cpp0['spikes'] / b[0]['spikes']:.3f} "
                      f"(different noise draws: rates agree statistically)")
                cpp = r["cpp"]
                print(f"  ratio cpp_standalone/biosim: fresh process "
                      f"{ratio('izhikevich', label + ' fresh', b, cpp, 'cpp_standalone')}, "
                      f"steady state "
                      f"{ratio('izhikevich', label + ' steady', steady, cpp, 'cpp_standalone')}, "
                      f"cold (compiling) "
                      f"{ratio('izhikevich', label + ' cold', [cold], cpp, 'cpp_standalone')}")
                if "cython" in r:
                    x = ratio("izhikevich", label + " steady", steady, r["cython"],
                              "Brian2 cython")
                    print(f"  ratio cython/biosim, both in-process after a first run: {x}")
                print(f"  biosim {b[0]['events'] / statistics.median(steady):.3g} synaptic "
                      f"events per CPU s (steady)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    else:
        main()
