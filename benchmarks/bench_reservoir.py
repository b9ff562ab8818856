"""Reservoir speed: trials per second of the what/when task (400 ms trials, dt = 0.5 ms,
one when + two what readouts learning with the three-factor rule) for N = 1000 and 2000,
biosim's fused numba kernel against the same reservoir in Brian2 (Izhikevich 2003
equations, forward Euler in both, exponential synapses, 10% connectivity) with the readout
and its learning in a Python ``network_operation`` every step. Timed in one process;
BIOSIM_BENCH_QUICK=1 selects N = 300 and fewer trials. BIOSIM_BRIAN2_TARGET picks Brian2's
code generation target (default "cython", falling back to "numpy"). For reference it
also times the Brian2 reservoir alone (no readout, no input)."""
import os
import time

import numpy as np

from biosim.reservoir import Reservoir, ThreeFactorReadout, WhatWhenTask
from biosim.reservoir.experiment import run_three_factor

RES = dict(g=200.0, tau_decay=50.0, bias=4.0, bias_std=3.0, input_gain=20.0, scheme="euler")


def _task(n_trials):
    return WhatWhenTask([{"latency": 250, "probabilities": [0.5, 0.3], "n_trials": n_trials}],
                        trial_ms=400, seed=0)


def biosim_rate(n, n_trials):
    res = Reservoir(n, n_inputs=3, seed=1, **RES)
    ro = ThreeFactorReadout(3, eta=[200.0, 6.0, 6.0], modes=["online", "offline", "offline"],
                            gate_floor=0.5)
    run_three_factor(res, ro, _task(2))  # compile outside the timing
    task = _task(n_trials)
    t0 = time.perf_counter()
    out = run_three_factor(res, ro, task)
    rate = n_trials / (time.perf_counter() - t0)
    res.reset_state()
    _, spikes = res.run(task.inputs(task.trials()[0]), record_spikes=True)
    return rate, spikes.mean() / 0.5e-3, out


def brian2_rate(n, n_trials, with_readout=True):
    import brian2 as b2

    target = os.environ.get("BIOSIM_BRIAN2_TARGET", "cython")
    try:
        b2.prefs.codegen.target = target
    except Exception:
        target = b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    res = Reservoir(n, n_inputs=3, seed=1, **RES)  # same parameters and weights
    dt, td = res.dt, res.tau_decay
    b2.defaultclock.dt = dt * b2.ms
    eqs = """dv/dt = (0.04*v**2 + 5*v + 140 - u + I_ext + bias + J)/ms : 1
             du/dt = a*(b*v - u)/ms : 1
             dr/dt = -r/tau : 1
             dJ/dt = -J/tau : 1
             I_ext : 1
             a : 1
             b : 1
             c : 1
             d : 1
             bias : 1"""
    G = b2.NeuronGroup(n, eqs, threshold="v >= 30", reset="v = c; u += d; r += 1/tdm",
                       method="euler", namespace={"tau": td * b2.ms, "tdm": td})
    G.a, G.b, G.c, G.d, G.bias = res.a, res.b, res.c, res.d, res.bias_
    pre = np.repeat(np.arange(n), np.diff(res.indptr))
    S = b2.Synapses(G, G, "w : 1", on_pre="J_post += w/tdm", namespace={"tdm": td})
    S.connect(i=pre, j=res.indices)
    S.w = res.data
    ro = ThreeFactorReadout(3, eta=[200.0, 6.0, 6.0], modes=["online", "offline", "offline"],
                            gate_floor=0.5)
    ro.init(n)
    decay = np.exp(-dt / ro.tau_e)
    trial = {}

    def readout():
        k = trial["k"]
        if k >= trial["I"].shape[0]:
            return
        G.I_ext = trial["I"][k]
        r = G.r[:]
        y = ro.W_ @ r
        gate = np.where(trial["window"][k] > 0, 1.0, ro.gate_floor)
        m = ro.eta / n * gate * (trial["targets"][k] - y) * dt
        ro.eligibility_ *= decay
        ro.eligibility_ += (1 - decay) * r
        ro.W_[0] += m[0] * ro.eligibility_[0]
        ro.pending_[1:] += m[1:, None] * ro.eligibility_[1:]
        trial["k"] = k + 1

    net = b2.Network(G, S)
    if with_readout:
        net.add(b2.NetworkOperation(readout, dt=dt * b2.ms, when="end"))
    G.v, G.u = res.v0, res.u0
    net.store()

    def run(trials, task):
        for tr in trials:
            net.restore()
            trial.update(k=0, I=task.inputs(tr) @ res.W_in, targets=task.targets(tr),
                         window=task.window(tr, tr.t_stim))
            net.run(task.trial_ms * b2.ms)
            if with_readout:
                ro.consolidate()

    task = _task(n_trials)
    run(task.trials()[:1], task)  # code generation outside the timing
    t0 = time.perf_counter()
    run(task.trials(), task)
    return n_trials / (time.perf_counter() - t0), target


def main():
    quick = os.environ.get("BIOSIM_BENCH_QUICK") == "1"
    sizes = (300,) if quick else (1000, 2000)
    for n in sizes:
        rate_bs, hz, _ = biosim_rate(n, 10 if quick else 40)
        rate_b2, target = brian2_rate(n, 2 if quick else 3)
        rate_res, _ = brian2_rate(n, 2 if quick else 3, with_readout=False)
        print(f"N={n:5d} (rate {hz:5.1f} Hz): biosim {rate_bs:8.2f} trials/s   "
              f"brian2[{target}] + network_operation {rate_b2:7.2f} trials/s   "
              f"ratio {rate_bs / rate_b2:6.1f}x   (brian2 reservoir alone, no readout: "
              f"{rate_res:7.2f} trials/s)")


if __name__ == "__main__":
    main()
