"""Figure gallery for the README: one figure per model family, made with biosim's public API
and its ``bs.plot`` functions.

    .venv/bin/python docs/gallery.py            # all figures into docs/figures/
    .venv/bin/python docs/gallery.py kuramoto   # only some: kuramoto memory dendrites
                                                #            reservoir vpr

Each figure prints the numbers its README caption quotes. Sizes are small enough for the whole
gallery to run in about 30 s on two CPU cores; every figure is seeded (same PNG each run).
"""
from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import biosim as bs  # noqa: E402

OUT = Path(__file__).resolve().parent / "figures"
DPI = 100


def save(fig, name: str) -> Path:
    """Write ``docs/figures/<name>.png`` (a 256-colour palette PNG, small enough for the
    README) and close the figure."""
    from PIL import Image

    from biosim.core.io import atomic_path

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.png"
    fig.set_dpi(DPI)
    fig.canvas.draw()
    rgb = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])
    plt.close(fig)
    img = rgb.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", optimize=True)
    return path


def kuramoto():
    """r(K) of 10^4 Lorentzian oscillators against the Ott-Antonsen theory, and r(t)."""
    from biosim.oscillators import critical_coupling, lorentzian_r, natural_frequencies, simulate

    N, delta, dt, steps = 10_000, 0.5, 0.1, 600
    omega = natural_frequencies(N, "lorentzian", delta, sample="quantile", seed=1)
    theta0 = np.random.default_rng(0).uniform(0, 2 * np.pi, N)
    Ks = np.round(np.linspace(0.2, 3.0, 15), 1)
    runs = {K: simulate(theta0, omega, dt, steps, K=K) for K in Ks}
    r_sim = np.array([runs[K].r[-200:].mean() for K in Ks])
    r_th = np.array([lorentzian_r(K, delta) for K in Ks])
    Kc = critical_coupling("lorentzian", delta)
    above = Ks >= 1.5 * Kc
    dev = np.abs(r_sim - r_th)[above].max()

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    Kt = np.linspace(0.05, 3.0, 300)
    bs.plot.sync_transition(Ks, r_sim, ax=axes[0], theory_K=Kt,
                            theory_r=[lorentzian_r(K, delta) for K in Kt],
                            label=f"simulation, N = {N:,}",
                            theory_label="theory sqrt(1 - 2Δ/K)")
    axes[0].axvline(Kc, color="0.6", ls=":", lw=1)
    axes[0].text(Kc + 0.04, 0.9, "K_c = 2Δ", color="0.4", fontsize="small")
    axes[0].set_title(f"Synchronisation transition, Lorentzian Δ = {delta}")
    for K in (0.6, 1.4, 3.0):
        bs.plot.order_parameter_trace(runs[K].t, runs[K].r, ax=axes[1], label=f"K = {K}")
        axes[1].axhline(lorentzian_r(K, delta), color="k", ls="--", lw=0.8)
    axes[1].set_title("r(t) from random phases (dashed: theory)")
    axes[1].set_xlabel("time (model units)")
    path = save(fig, "kuramoto_sync")
    return path, f"max |r_sim - r_theory| for K >= 1.5 K_c: {dev:.3f}"


def memory():
    """Gripon-Berrou clique network: retrieval error against stored messages."""
    from biosim.memory import theory
    from biosim.memory.capacity import (clique_capacity_curve, hopfield_capacity_curve,
                                        largest_below)

    curve = clique_capacity_curve(np.arange(1250, 30001, 1250), c=8, l=256, n_erased=4,
                                  n_trials=2000, seed=0)
    hop = hopfield_capacity_curve([50, 100, 150, 200, 250, 283], n=2048, n_trials=100, seed=1)
    cap_som = largest_below(curve["M"], curve["error_som"], 0.1)
    cap_sos = largest_below(curve["M"], curve["error_sos"], 0.1)
    cap_hop = largest_below(hop["P"], hop["error"], 0.1)
    dev = np.abs(curve["error_1"] - curve["error_1_theory"]).max()
    cond = theory.one_iteration_error_conditional(curve["M"], 8, 256, 4)
    dev_cond = np.abs(curve["error_1"] - cond).max()

    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), constrained_layout=True)
    for ax, hopfield in ((axes[0], None), (axes[1], hop)):
        bs.plot.capacity(curve, ax=ax, hopfield=hopfield)
        ax.plot(curve["M"], cond, "k--", lw=1, label="one iteration, conditional theory")
        ax.axhline(0.1, color="0.6", ls=":", lw=1)
    axes[0].get_legend().remove()  # one legend for both panels
    axes[0].set_title("c = 8 clusters of l = 256, 4 clusters erased")
    axes[1].legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    axes[1].set_title("Hopfield, same n = 2048, half the units erased")
    axes[1].text(0.29, 0.75, f"at 10% error:\n{cap_som:,.0f} messages (sum-of-max)\n"
                 f"{cap_hop:.0f} Hopfield patterns\n(0.138 n = "
                 f"{theory.hopfield_capacity(2048):.0f})",
                 transform=axes[1].transAxes, fontsize="small", va="top")
    path = save(fig, "memory_capacity")
    return path, (f"capacity at 10% error: sum-of-max {cap_som:.0f}, sum-of-sum {cap_sos:.0f} "
                  f"messages, Hopfield {cap_hop:.0f} patterns; max |P_e1 - theory| {dev:.3f} "
                  f"(classic), {dev_cond:.3f} (conditional)")


def dendrites():
    """False matches of a dendritic segment (Ahmad & Hawkins 2016): exact theory and MC."""
    from scipy.stats import chi2

    from biosim.dendrites import (false_match_probability, false_match_rate,
                                  false_negative_probability)

    s, theta = 24, 12
    n = np.arange(300, 3001, 50)
    curves, points, zs = {}, {}, []
    for a in (64, 128, 256):
        y = np.full(n.shape, np.nan)
        ok = n >= a
        y[ok] = false_match_probability(n[ok], a, s, theta)
        curves[f"a = {a} active"] = y
        xs = [m for m in (300, 400, 500, 600, 800, 1000, 1200, 1500)
              if m >= a and false_match_probability(m, a, s, theta) > 3e-5]
        rs = [false_match_rate(m, a, s, theta, 1_000_000, seed=m + a) for m in xs]
        points[f"a = {a} active"] = (xs, [r.p for r in rs], [r.se for r in rs])
        zs += [r.z_score(false_match_probability(m, a, s, theta)) for m, r in zip(xs, rs)]

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    bs.plot.error_curves(n, curves, mc=points, ax=axes[0], ylabel="P(false match)")
    axes[0].set_title(f"s = {s} synapses, θ = {theta}: theory (lines), Monte Carlo (±2 SE)")
    th = np.arange(1, 33)
    bs.plot.threshold_tradeoff(th, false_match_probability(2048, 64, 32, th),
                               false_negative_probability(64, 32, th, 25), ax=axes[1])
    axes[1].set_ylim(1e-16, 10)
    axes[1].set_title("n = 2048, a = 64, s = 32, 25 of 64 bits noisy")
    path = save(fig, "dendrites_false_match")
    zs = np.asarray(zs)
    return path, (f"{zs.size} Monte-Carlo points (10^6 samples each): largest |MC - theory| "
                  f"{np.abs(zs).max():.1f} SE, chi2 = {np.sum(zs ** 2):.1f} on {zs.size} dof "
                  f"(p = {chi2.sf(np.sum(zs ** 2), zs.size):.2f})")


def reservoir():
    """models/what_when.toml: the when and what readouts before and after a latency switch,
    and the learned amplitude against the stimulus probability."""
    from biosim.reservoir import (Reservoir, ThreeFactorReadout, WhatWhenTask, build, metrics,
                                  run_three_factor)

    spec = bs.load_spec("what_when")
    res, readout, task, opts = build(spec, seed=1)
    out = run_three_factor(res, readout, task, **opts)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True,
                             gridspec_kw={"width_ratios": [1, 1, 0.75]})
    start = 0
    timing = []
    for k, b in enumerate(task.blocks):
        start += b["n_trials"]
        t_stim = task.cue_onset + b["latency"]
        mean = out[start - 20:start].mean(0)
        timing.append(metrics.timing_error(mean[:, 0], task.times, t_stim))
        bs.plot.readouts(task.times, mean, task.expected(k),
                         ["when", "what 1 (p = 0.8)", "what 2 (p = 0)"],
                         ax=axes[k], events=(task.cue_onset, t_stim))
        axes[k].legend(fontsize="small", loc="upper right" if k == 0 else (0.2, 0.36))
        axes[k].set_title(f"block {k + 1}: stimulus {b['latency']:g} ms after the cue "
                          f"(last 20 trials)", fontsize="medium")
    ps, amps = (0.2, 0.5, 0.8), []
    ro_spec = spec["readout"]
    for p in ps:  # the spec's reservoir and learning rates, one stimulus of probability p
        tk = WhatWhenTask([{"latency": 250, "probabilities": [p], "n_trials": 120}],
                          trial_ms=400, dt=spec["reservoir"]["dt"], seed=1)
        ro = ThreeFactorReadout(2, eta=[ro_spec["eta_when"], ro_spec["eta_what"]],
                                modes=["online", "offline"], gate_floor=ro_spec["gate_floor"])
        y = run_three_factor(Reservoir(n_inputs=2, seed=3, **spec["reservoir"]), ro,
                             tk)[-60:].mean(0)
        t_stim = tk.cue_onset + 250
        near = np.abs(tk.times - t_stim) <= tk.gate_halfwidth
        amps.append(metrics.amplitude(y[:, 0], tk.template(t_stim), near))
    fit = metrics.probability_fit(ps, amps)
    fig.suptitle("models/what_when.toml: 200 Izhikevich neurons, three-factor readouts "
                 "(dashed: expected targets); a latency switch from 150 to 300 ms",
                 fontsize="medium")
    bs.plot.amplitude_vs_probability(ps, amps, ax=axes[2],
                                     label=f"when readout (slope {fit['slope']:.2f})")
    axes[2].set_title("amplitude tracks p (stimulus at 250 ms)", fontsize="medium")
    path = save(fig, "reservoir_what_when")
    return path, (f"timing error {timing[0]:.0f} / {timing[1]:.0f} ms; amplitudes "
                  f"{np.round(amps, 2).tolist()} for p = {list(ps)}; slope {fit['slope']:.2f}, "
                  f"Pearson r {fit['pearson_r']:.3f}")


def vpr():
    """Synthetic route under five conditions; SAD similarity summer x winter and PR curves."""
    from biosim.vpr.baselines import sad_similarity, sequence_match
    from biosim.vpr.metrics import precision_recall_curve, recall_at_k
    from biosim.vpr.preprocess import preprocess
    from biosim.vpr.synthetic import CONDITIONS, render_route

    n = 100
    imgs = render_route(n, CONDITIONS, seed=0)
    pre = {c: preprocess(v) for c, v in imgs.items()}
    gt = np.eye(n, dtype=bool)
    s = sad_similarity(pre["summer"], pre["winter"])
    seq = sequence_match(s, 5)
    r1 = {c: recall_at_k(sad_similarity(pre["summer"], pre[c]), gt, 1) for c in CONDITIONS[1:]}

    fig = plt.figure(figsize=(12, 6.4), constrained_layout=True)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.05])
    bs.plot.frames(imgs, [0, 1, 2, 3, 4, 5, 6, 7], ax=top.subplots())
    top.suptitle("Synthetic route (64x32 px), places 0-7, one row per traverse", fontsize="medium")
    axs = bottom.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    bs.plot.similarity_matrix(s, gt, ax=axs[0])
    for line in axs[0].lines:  # larger best-match markers than the default
        line.set_markersize(4)
    axs[0].legend(title="best match", loc="lower right", fontsize="small",
                  title_fontsize="small")
    axs[0].set_title(f"SAD, summer reference x winter queries: R@1 {recall_at_k(s, gt, 1):.2f}",
                     fontsize="medium")
    for m, name in ((s, "single frames"), (seq, "sequences of 5")):
        p, r, _ = precision_recall_curve(m, gt)
        bs.plot.pr_curve(p, r, ax=axs[1], label=f"{name} (R@1 {recall_at_k(m, gt, 1):.2f})")
    axs[1].set_title("precision-recall, summer x winter", fontsize="medium")
    path = save(fig, "vpr_synthetic_sad")
    return path, "R@1 summer ref: " + ", ".join(f"{c} {v:.2f}" for c, v in r1.items()) + (
        f"; winter with sequences of 5: {recall_at_k(seq, gt, 1):.2f}")


FIGURES = {"kuramoto": kuramoto, "memory": memory, "dendrites": dendrites,
           "reservoir": reservoir, "vpr": vpr}


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name",
                        help="figures to make: " + ", ".join(FIGURES) + " (default: all)")
    names = parser.parse_args(argv).names
    for name in names:
        if name not in FIGURES:
            parser.error(f"unknown figure {name!r}; choose from " + ", ".join(FIGURES))
    for name in names or FIGURES:
        t0 = time.perf_counter()
        path, note = FIGURES[name]()
        print(f"{path.name}: {note}  [{time.perf_counter() - t0:.1f} s, "
              f"{path.stat().st_size / 1024:.0f} KB]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
