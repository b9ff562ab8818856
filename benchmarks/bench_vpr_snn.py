"""VPRSNN training and query speed: biosim numba vs biosim torch (CPU) vs Brian2, one run.

Every implementation is built once and timed in steady state (Brian2's code generation and
first-run set-up outside the timing; ``Network.restore`` puts it back to the same start
before each round), CPU time of this process, alternating rounds, median [min-max]; spike
counts per presentation are printed side by side to check that the work is alike (the
Poisson inputs are each implementation's own draws).

The same network (784 Poisson inputs -> n_e excitatory <-> n_e inhibitory, triplet STDP with
delays, VPRSNN's constants, dt 0.5 ms) is written here in Brian2 as VPRSNN does
(``NeuronGroup``/``Synapses``, ``method='euler'``, one ``run`` per 350 ms image and 150 ms
rest, weights normalised in Python before every training image), started from the same
weights and delays as biosim's. Times are per presentation; the RA-L protocol for a
100-place module is 12,000 training presentations (60 epochs x 2 traverses x 100 places)
with n_e = 400, and the modular Nordland run (ICRA 2023) is 132 modules of 25 places with
400 neurons each (3,000 presentations per module). ``BIOSIM_BENCH_QUICK=1``: small sizes.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

QUICK = os.environ.get("BIOSIM_BENCH_QUICK") == "1"


def brian2_network(W, delays, theta, params, train: bool, target: str = "cython", seed=None):
    """VPRSNN in Brian2, from given input weights (n_input, n_e), delays (steps), thetas.

    Returns ``present(images) -> spike counts (n_images, n_e)``, which runs the network;
    ``present.input_weights()`` reads the current input weights (n_input, n_e).
    """
    import brian2 as b2

    from biosim.vpr.snn_numba import INITIAL_REST

    b2.prefs.codegen.target = target
    if seed is not None:
        b2.seed(seed)
    b2.defaultclock.dt = params.dt * b2.ms
    n_in, n_e = W.shape
    p = params
    ns = {"v_rest_e": p.v_rest_e * b2.mV, "v_reset_e": p.v_reset_e * b2.mV,
          "v_thresh_e": p.v_thresh_e * b2.mV, "offset": p.offset * b2.mV,
          "tau_e": p.tau_e * b2.ms, "tau_ge": p.tau_ge * b2.ms, "tau_gi": p.tau_gi * b2.ms,
          "e_inh_e": p.e_inh_e * b2.mV, "tau_theta": p.tau_theta * b2.ms,
          "theta_plus": p.theta_plus * b2.mV, "refrac_e": p.refrac_e * b2.ms,
          "timer_rate": p.timer_rate, "v_rest_i": p.v_rest_i * b2.mV,
          "v_reset_i": p.v_reset_i * b2.mV, "v_thresh_i": p.v_thresh_i * b2.mV,
          "tau_i": p.tau_i * b2.ms, "e_inh_i": p.e_inh_i * b2.mV, "tau_pre": p.tau_pre * b2.ms,
          "tau_post1": p.tau_post1 * b2.ms, "tau_post2": p.tau_post2 * b2.ms,
          "nu_pre": p.nu_pre * (1 if p.stdp == "vprsnn" else -1), "nu_post": p.nu_post,
          "w_max": p.w_max}
    theta_eq = "dtheta/dt = -theta / tau_theta : volt" if train else "theta : volt"
    exc = b2.NeuronGroup(n_e, f"""
        dv/dt = ((v_rest_e - v) + ge * (0*mV - v) + gi * (e_inh_e - v)) / tau_e
                : volt (unless refractory)
        dge/dt = -ge / tau_ge : 1
        dgi/dt = -gi / tau_gi : 1
        dtimer/dt = timer_rate : second
        {theta_eq}""",
        threshold="(v > (theta - offset + v_thresh_e)) and (timer > refrac_e)",
        reset="v = v_reset_e; timer = 0*ms" + ("; theta += theta_plus" if train else ""),
        refractory=p.refrac_e * b2.ms, method="euler", namespace=ns)
    inh = b2.NeuronGroup(n_e, """
        dv/dt = ((v_rest_i - v) + ge * (0*mV - v) + gi * (e_inh_i - v)) / tau_i
                : volt (unless refractory)
        dge/dt = -ge / tau_ge : 1
        dgi/dt = -gi / tau_gi : 1""",
        threshold="v > v_thresh_i", reset="v = v_reset_i", refractory=p.refrac_i * b2.ms,
        method="euler", namespace=ns)
    exc.v, inh.v = p.v_rest_e * b2.mV, p.v_rest_i * b2.mV
    exc.timer = p.timer_rate * INITIAL_REST * b2.ms
    exc.theta = theta * b2.mV
    inp = b2.PoissonGroup(n_in, 0 * b2.Hz)
    model, on_pre, on_post = "w : 1", "ge_post += w", ""
    if train:
        model += """
            post2before : 1
            dpre/dt = -pre / tau_pre : 1 (event-driven)
            dpost1/dt = -post1 / tau_post1 : 1 (event-driven)
            dpost2/dt = -post2 / tau_post2 : 1 (event-driven)"""
        on_pre += "; pre = 1.; w = clip(w + nu_pre * post1, 0, w_max)"
        on_post = ("post2before = post2; w = clip(w + nu_post * pre * post2before, 0, w_max); "
                   "post1 = 1.; post2 = 1.")
    s_in = b2.Synapses(inp, exc, model, on_pre=on_pre, on_post=on_post, namespace=ns)
    s_in.connect(True)
    s_in.w = W[s_in.i[:], s_in.j[:]]
    s_in.delay = delays[s_in.i[:], s_in.j[:]] * p.dt * b2.ms
    s_ei = b2.Synapses(exc, inh, on_pre=f"ge_post += {p.w_ei}")
    s_ei.connect(j="i")
    s_ie = b2.Synapses(inh, exc, on_pre=f"gi_post += {p.w_ie}")
    s_ie.connect(condition="i != j")
    mon = b2.SpikeMonitor(exc, record=False)
    net = b2.Network(exc, inh, inp, s_in, s_ei, s_ie, mon)
    net.store()

    def present(pixels):
        counts = np.zeros((len(pixels), n_e), np.int64)
        for k, x in enumerate(pixels):
            if train:
                w_now = np.asarray(s_in.w[:]).reshape(n_in, n_e)
                s_in.w = (w_now * (p.weight_sum / w_now.sum(axis=0))).ravel()
            before = np.asarray(mon.count[:]).copy()
            inp.rates = x * p.rate_scale * b2.Hz
            net.run(p.present_time * b2.ms, namespace={})
            counts[k] = np.asarray(mon.count[:]) - before
            inp.rates = 0 * b2.Hz
            net.run(p.rest_time * b2.ms, namespace={})
        return counts

    present.input_weights = lambda: np.asarray(s_in.w[:]).reshape(n_in, n_e)
    present.restore = net.restore  # back to the state as built
    return present


def timed(fn, *args):
    t = time.process_time()
    out = fn(*args)
    return time.process_time() - t, out


def main():
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    # here, not at the top: tests import this file for brian2_network
    from _common import header, ratio, rounds, seconds, spread
    from biosim.vpr.preprocess import preprocess
    from biosim.vpr.snn_numba import NumbaVPRSNN, SNNParams
    from biosim.vpr.synthetic import synthetic_route

    params = SNNParams()
    ds = synthetic_route(25, ("summer", "autumn", "rain"), seed=0)
    images = [preprocess(t.images).reshape(25, -1).astype(float) for t in ds.references]
    n_e = 100 if QUICK else 400
    k = 2 if QUICK else 4        # presentations timed for every implementation
    pre_epochs = 1 if QUICK else 4
    x_train, x_test = images[0][:k], images[1][10:10 + k]
    fns = {}  # implementation -> (train(), query()), each from the same start every round

    # numba pre-trains the module (25 places, 2 traverses) so that every implementation is
    # timed on a typical, sparsely firing network rather than on the first presentations
    NumbaVPRSNN(1, 784, n_e, params, seed=1).present([images[0][:1]], True)   # compile
    net = NumbaVPRSNN(1, 784, n_e, params, seed=1)
    t_pre = time.perf_counter()
    for _ in range(pre_epochs):
        for x in images:
            net.present([x], True)
    t_pre = (time.perf_counter() - t_pre) / (50 * pre_epochs)
    start = {key: v.copy() for key, v in net.modules[0].items()}
    net.reset_state()
    net.present([x_train], True)
    trained = {key: v.copy() for key, v in net.modules[0].items()}

    def steps(model, x, train):
        def run():
            model.set_modules([start if train else trained])
            t, c = timed(model.present, [x], train)
            return {"s": t / k, "spikes": c[0].sum(1).mean()}
        return run

    fns["biosim numba"] = (steps(net, x_train, True), steps(net, x_test, False))
    try:
        import torch

        from biosim.vpr.snn_torch import TorchVPRSNN

        torch.set_num_threads(1)
        tn = TorchVPRSNN(1, 784, n_e, params, seed=1)
        tn.set_modules([start])
        tn.present([x_train[:1]], True)                              # warm-up, untimed
        fns["biosim torch CPU"] = (steps(tn, x_train, True), steps(tn, x_test, False))
    except ImportError:
        print("torch not installed: no torch timing")

    try:
        import brian2  # noqa: F401

        target = "cython"
        try:
            import Cython  # noqa: F401
        except ImportError:
            target = "numpy"

        def brian2_steps(m, x, train):
            present = brian2_network(m["W"], m["delays"], m["theta"], params, train, target)
            present(x[:1])                                           # code generation
            def run():
                present.restore()
                t, c = timed(present, x)
                return {"s": t / k, "spikes": c.sum(1).mean()}
            return run

        fns[f"Brian2 {target}"] = (brian2_steps(start, x_train, True),
                                   brian2_steps(trained, x_test, False))
    except ImportError:
        print("brian2 not installed: no peer timing")

    n_rounds = 2 if QUICK else 3
    res = rounds({(name, j): f[j] for name, f in fns.items() for j in (0, 1)}, n_rounds)
    rows = {name: (res[name, 0], res[name, 1]) for name in fns}

    header(f"VPRSNN, n_e = {n_e}, dt = {params.dt} ms, one CPU core; CPU seconds per 500 ms "
           f"presentation, mean of {k}, median [min-max] of {n_rounds} rounds, after "
           f"{pre_epochs} epoch(s) of 50 presentations (numba: {t_pre:.4f} s each)")
    print(f"{'implementation':<18} {'train s':>26} {'query s':>26} {'spikes/train':>12} "
          f"{'spikes/query':>12}")
    med = lambda xs: statistics.median(seconds(x) for x in xs)  # noqa: E731
    for name, (tr, te) in rows.items():
        print(f"{name:<18} {spread([x['s'] for x in tr], '{:.4f}'):>26} "
              f"{spread([x['s'] for x in te], '{:.4f}'):>26} "
              f"{np.mean([x['spikes'] for x in tr]):12.1f} "
              f"{np.mean([x['spikes'] for x in te]):12.1f}")
    base = rows["biosim numba"]
    for name, (tr, te) in rows.items():
        if name != "biosim numba":
            print(f"numba speed-up over {name}: training "
                  f"{ratio('vpr_snn', f'train n_e={n_e}', base[0], tr, name)}, queries "
                  f"{ratio('vpr_snn', f'query n_e={n_e}', base[1], te, name)}")
    if not QUICK:
        print("\nExtrapolation (n_e = 400, from the per-presentation medians above):")
        for name, (tr, te) in rows.items():
            a, b = med(tr), med(te)
            module = 12000 * a + 300 * b
            nordland = 132 * (3000 * a + 75 * b)
            print(f"{name:<18} 100-place module (RA-L): {module / 60:8.1f} min; "
                  f"Nordland 132 x 25-place modules: {nordland / 3600:8.1f} h on one core")


if __name__ == "__main__":
    main()
