"""``kind = "what_when"`` specs: a reservoir, a three-factor readout and the task, as TOML
(``models/what_when.toml``); :func:`evaluate_spec` runs one seed and returns the metrics
that a sweep records."""
from __future__ import annotations

import numpy as np

from biosim.core import validation as check

SECTIONS = {
    "reservoir": {"n", "frac_exc", "p", "g", "w_exc", "w_inh", "tau_rise", "tau_decay", "dt",
                  "bias", "bias_std", "noise_std", "input_p", "input_gain"},
    "readout": {"eta_when", "eta_what", "tau_e", "gate_floor", "expect_threshold",
                "stimulus_gain"},
    "task": {"trial_ms", "cue_onset", "cue_ms", "stimulus_ms", "target_width",
             "gate_halfwidth", "blocks"},
}
TOP = {"kind", "name", "description", *SECTIONS}


def _section(spec, name):
    table = spec.get(name, {})
    if not isinstance(table, dict):
        check.fail(name, "a table", table)
    for key in table:
        if key not in SECTIONS[name]:
            check.fail(f"{name}.{key}", "one of " + ", ".join(sorted(SECTIONS[name])),
                       "unknown")
    return table


def build(spec: dict, seed=None):
    """(reservoir, readout, task, run options) from a spec; every field is validated by
    the constructors, errors name the spec field."""
    from biosim.reservoir.readout import ThreeFactorReadout
    from biosim.reservoir.reservoir import Reservoir
    from biosim.reservoir.task import WhatWhenTask

    if not isinstance(spec, dict):
        check.fail("spec", "a TOML table", spec)
    for key in spec:
        if key not in TOP:
            check.fail(key, "one of " + ", ".join(sorted(TOP)), "unknown")
    res_kw, ro_kw, task_kw = (dict(_section(spec, s)) for s in ("reservoir", "readout", "task"))
    if "blocks" not in task_kw:
        check.fail("task.blocks", "a list of [[task.blocks]] tables", "missing")
    try:
        ss = np.random.SeedSequence(seed)
        s_res, s_task = ss.spawn(2)
        blocks = task_kw.pop("blocks")
        if not isinstance(blocks, list) or not blocks:
            check.fail("blocks", "a non-empty list of [[task.blocks]]", blocks)
        n_stim = len(blocks[0].get("probabilities", [])) if isinstance(blocks[0], dict) else 0
        dt = res_kw.get("dt", 0.5)
        task = WhatWhenTask(blocks, dt=dt, seed=s_task, **task_kw)
        opts = {"expect_threshold": ro_kw.pop("expect_threshold", 0.1),
                "stimulus_gain": check.number("stimulus_gain", ro_kw.pop("stimulus_gain", 0.0))}
        eta = [ro_kw.pop("eta_when", 1.0)] + [ro_kw.pop("eta_what", 0.03)] * n_stim
        readout = ThreeFactorReadout(1 + n_stim, eta=eta,
                                     modes=["online"] + ["offline"] * n_stim, **ro_kw)
        reservoir = Reservoir(n_inputs=1 + n_stim, seed=s_res, **res_kw)
    except check.BiosimError as e:
        msg = str(e)
        for section, fields in SECTIONS.items():
            field = msg.split(":")[0].split(".")[0].split("[")[0]
            if field in fields or (section == "readout" and field == "eta"):
                raise check.BiosimError(f"{section}.{msg}") from None
        raise
    return reservoir, readout, task, opts


def validate_spec(spec: dict) -> dict:
    """Check a what_when spec by building it; returns it."""
    build(spec, 0)
    return spec


def evaluate_spec(spec: dict, seed: int) -> dict[str, float]:
    """Run the spec's task for one seed; metrics (times in ms):

    - ``timing_error_ms``: |t_peak - t_stim| of the when readout (mean output over the last
      10 trials of the last block);
    - ``amplitude_when`` / ``amplitude_what``: least-squares gain of the when / what_1
      outputs onto their templates in the last block (the theory: sum p_i / p_1);
    - ``expected_when`` / ``expected_what``: those theoretical values;
    - ``adaptation_trials``: trials after the last block switch until 90% of the way to the
      error asymptote (mean of the block's last 5 trials); NaN with a single block;
    - ``final_error``: RMS error of the when readout against the block's expectation;
    - ``angle_what_when_deg`` and ``angle_shuffled_deg``: principal angle between what and
      when weights, and its median over 50 neuron shuffles;
    - ``rate_hz``: mean reservoir firing rate in the last trial.
    """
    from biosim.reservoir import metrics
    from biosim.reservoir.experiment import run_three_factor

    reservoir, readout, task, opts = build(spec, seed)
    trials = task.trials()
    out = run_three_factor(reservoir, readout, task, trials, **opts)
    last = len(task.blocks) - 1
    start = task.n_trials - task.blocks[-1]["n_trials"]
    b = task.blocks[-1]
    t_stim = task.cue_onset + b["latency"]
    mean = out[-min(10, b["n_trials"]):].mean(0)
    expected = task.expected(last)
    near = np.abs(task.times - t_stim) <= task.gate_halfwidth
    what = task.what_template(t_stim)
    errors = np.sqrt(((out[start:, :, 0] - expected[:, 0]) ** 2).mean(axis=1))
    W = readout.W_
    res = {
        "timing_error_ms": metrics.timing_error(mean[:, 0], task.times, t_stim),
        "amplitude_when": metrics.amplitude(mean[:, 0], task.template(t_stim), near),
        "expected_when": float(b["probabilities"].sum()),
        "amplitude_what": metrics.amplitude(mean[:, 1], what, what > 0),
        "expected_what": float(b["probabilities"][0]),
        "adaptation_trials": (metrics.adaptation_trials(errors) if len(task.blocks) > 1
                              else float("nan")),
        "final_error": float(errors[-5:].mean()),
        "angle_what_when_deg": metrics.subspace_angle(W[1:], W[:1]),
        "angle_shuffled_deg": float(np.median(metrics.shuffled_angle(W[1:], W[:1], 50, seed))),
        "n_trials": float(len(trials)),
    }
    reservoir.reset_state()
    gains = np.r_[1.0, np.full(task.n_stimuli, opts["stimulus_gain"])]
    _, spikes = reservoir.run(task.inputs(trials[-1]) * gains, record_spikes=True)
    res["rate_hz"] = float(spikes.mean() / (reservoir.dt * 1e-3))
    return res
