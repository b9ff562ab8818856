"""Specs of the reservoir family, as TOML: ``kind = "what_when"`` (a reservoir, a
three-factor readout and the task, ``models/what_when.toml``) and ``kind = "force_sine"``
(Nicola & Clopath's FORCE sinusoid). Both kinds are registered with :mod:`biosim.core.spec`
with their schemas when this module is imported, so they load through the same loader,
schema checks and units as ``izhikevich2003.toml``; :func:`evaluate_spec` runs one seed and
returns the metrics that a sweep records. Times are in ms (``force.every_ms``: the RLS
period, a multiple of ``reservoir.dt``); the reservoir's dt defaults to
:data:`~biosim.reservoir.reservoir.DEFAULT_DT` (what_when) or 0.04 ms (force_sine, Nicola &
Clopath's step)."""
from __future__ import annotations

import numpy as np

from biosim.core import validation as check
from biosim.core.spec import ANY, BOOL, INT, NUM, STR, check_sections, register_kind
from biosim.reservoir.reservoir import DEFAULT_DT
from biosim.reservoir.task import WHAT_UNTIL

#: dt of force_sine specs (Nicola & Clopath's step), ms
FORCE_DT = 0.04
RESERVOIR = {
    "n": (INT, "int>=1"), "frac_exc": (NUM, "prob"), "p": (NUM, "prob"), "g": (NUM, "nonneg"),
    "w_exc": (NUM, "nonneg"), "w_inh": (NUM, "nonneg"), "tau_rise": (NUM, "nonneg"),
    "tau_decay": (NUM, "pos"), "dt": (NUM, "pos"), "bias": (NUM, None),
    "bias_std": (NUM, "nonneg"), "noise_std": (NUM, "nonneg"), "input_p": (NUM, "prob"),
    "input_gain": (NUM, None),
}
#: kind -> section -> field -> (type, constraint), checked by biosim.core.spec
KINDS = {
    "what_when": {
        "reservoir": RESERVOIR,
        "readout": {"eta_when": (NUM, "nonneg"), "eta_what": (NUM, "nonneg"),
                    "tau_e": (NUM, "pos"), "gate_floor": (NUM, "prob"), "center": (BOOL, None),
                    "expect_threshold": (NUM, None), "stimulus_gain": (NUM, None),
                    "consolidate": (STR, ("trial", "block"))},
        "task": {"trial_ms": (NUM, "pos"), "cue_onset": (NUM, "nonneg"),
                 "cue_ms": (NUM, "pos"), "stimulus_ms": (NUM, "pos"),
                 "target_width": (NUM, "pos"), "gate_halfwidth": (NUM, "pos"),
                 "what_until": (STR, WHAT_UNTIL), "blocks": (ANY, None)},
    },
    "force_sine": {
        "reservoir": RESERVOIR,
        "force": {"alpha": (NUM, "pos"), "every_ms": (NUM, "pos"), "lam": (NUM, "pos"),
                  "feedback": (NUM, None)},
        "run": {"settle_ms": (NUM, "pos"), "train_ms": (NUM, "pos"), "test_ms": (NUM, "pos"),
                "frequency_hz": (NUM, "pos")},
    },
}


def _sections(spec):
    """The spec's kind and its sections as dicts (checked by :mod:`biosim.core.spec`)."""
    if not isinstance(spec, dict):
        check.fail("spec", "a TOML table", spec)
    kind = check.choice("kind", spec.get("kind", "what_when"), tuple(KINDS))
    check_sections(spec, KINDS[kind])
    return kind, {name: dict(spec.get(name, {})) for name in KINDS[kind]}


def _in(section, fn, *args, **kw):
    """Call a constructor; its errors name the spec field (``section.field``)."""
    try:
        return fn(*args, **kw)
    except check.BiosimError as e:
        raise check.BiosimError(f"{section}.{e}") from None


def build(spec: dict, seed=None):
    """(reservoir, readout, task, run options) from a what_when spec; every field is
    validated by the constructors and errors name the spec field."""
    from biosim.reservoir.readout import ThreeFactorReadout
    from biosim.reservoir.reservoir import Reservoir
    from biosim.reservoir.task import WhatWhenTask

    kind, sec = _sections(spec)
    if kind != "what_when":
        check.fail("kind", "'what_when' for build()", kind)
    res_kw, ro_kw, task_kw = sec["reservoir"], sec["readout"], sec["task"]
    if "blocks" not in task_kw:
        check.fail("task.blocks", "a list of [[task.blocks]] tables", "missing")
    s_res, s_task = np.random.SeedSequence(seed).spawn(2)
    dt = res_kw.get("dt", DEFAULT_DT)  # the task's dt too
    task = _in("task", WhatWhenTask, task_kw.pop("blocks"), dt=dt,
               seed=s_task, **task_kw)
    n_stim = task.n_stimuli
    opts = {"expect_threshold": _in("readout", check.number, "expect_threshold",
                                    ro_kw.pop("expect_threshold", 0.1)),
            "stimulus_gain": _in("readout", check.number, "stimulus_gain",
                                 ro_kw.pop("stimulus_gain", 0.0)),
            "consolidate": _in("readout", check.choice, "consolidate",
                               ro_kw.pop("consolidate", "trial"), ("trial", "block"))}
    eta = [ro_kw.pop("eta_when", 200.0)] + [ro_kw.pop("eta_what", 6.0)] * n_stim
    readout = _in("readout", ThreeFactorReadout, 1 + n_stim, eta=eta,
                  modes=["online"] + ["offline"] * n_stim, **ro_kw)
    reservoir = _in("reservoir", Reservoir, n_inputs=1 + n_stim, seed=s_res, **res_kw)
    return reservoir, readout, task, opts


def validate_spec(spec: dict) -> dict:
    """Check a what_when or force_sine spec by building it; returns it."""
    kind, sec = _sections(spec)
    if kind == "what_when":
        build(spec, 0)
    else:
        _build_force(sec, 0)
    return spec


def _build_force(sec, seed):
    from biosim.reservoir.force import FORCE
    from biosim.reservoir.reservoir import Reservoir

    s_res, s_force = np.random.SeedSequence(seed).spawn(2)
    res_kw = {"dt": FORCE_DT, "tau_rise": 2.0, "tau_decay": 20.0, "bias": 1000.0,
              **sec["reservoir"]}
    reservoir = _in("reservoir", Reservoir, model="nicola_clopath", n_inputs=0, seed=s_res,
                    **res_kw)
    force_kw = dict(sec["force"])
    if "every_ms" in force_kw:  # ms in the spec, steps in Python
        every = force_kw.pop("every_ms") / reservoir.dt
        if abs(every - round(every)) > 1e-9 or round(every) < 1:
            check.fail("force.every_ms", f"a multiple of reservoir.dt = {reservoir.dt:g} ms",
                       every * reservoir.dt)
        force_kw["every"] = int(round(every))
    force = _in("force", FORCE, 1, seed=s_force, **force_kw)
    run = {"settle_ms": 500.0, "train_ms": 2000.0, "test_ms": 1000.0, "frequency_hz": 5.0,
           **sec["run"]}
    for key, value in run.items():
        run[key] = _in("run", check.positive, key, value)
    return reservoir, force, run


def _evaluate_force(sec, seed):
    """Settle, train on sin(2 pi f t), test with learning off; correlation and RMS error
    over the test window, firing rate."""
    reservoir, force, run = _build_force(sec, seed)
    dt = reservoir.dt

    def steps(ms):
        return int(round(ms / dt))

    def sine(t0, ms):
        t = t0 + np.arange(steps(ms)) * dt
        return np.sin(2 * np.pi * run["frequency_hz"] * t / 1000.0)[:, None]

    force.run(reservoir, np.zeros((steps(run["settle_ms"]), 0)), train=False)
    force.run(reservoir, np.zeros((steps(run["train_ms"]), 0)),
              sine(run["settle_ms"], run["train_ms"]))
    y = force.run(reservoir, np.zeros((steps(run["test_ms"]), 0)), train=False)[:, 0]
    target = sine(run["settle_ms"] + run["train_ms"], run["test_ms"])[:, 0]
    return {"test_correlation": float(np.corrcoef(y, target)[0, 1]),
            "test_rms": float(np.sqrt(np.mean((y - target) ** 2)))}


def evaluate_spec(spec: dict, seed: int) -> dict[str, float]:
    """Run a spec for one seed. force_sine: ``test_correlation``, ``test_rms``.
    what_when: the metrics below (times in ms):

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

    kind, sec = _sections(spec)
    if kind == "force_sine":
        return _evaluate_force(sec, seed)
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


for _kind in KINDS:
    register_kind(_kind, validate_spec, evaluate_spec)
