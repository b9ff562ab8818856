"""The acceptance claims, measured (issue 3; theory in references.md section 2)."""
import numpy as np
import pytest

from biosim.core.spec import evaluate, load_spec
from biosim.reservoir import (FORCE, Reservoir, ThreeFactorReadout, WhatWhenTask, metrics,
                              run_force, run_three_factor)

RES = dict(g=200.0, tau_decay=50.0, bias=4.0, bias_std=3.0, input_gain=20.0)


def _reservoir(n=200, seed=3):
    return Reservoir(n, n_inputs=2, seed=seed, **RES)


def _sine(n, train_ms, test_ms=1000.0, seed=1):
    dt = 0.04
    res = Reservoir(n, model="nicola_clopath", g=5000 / np.sqrt(0.1), p=0.1, tau_rise=2.0,
                    tau_decay=20.0, dt=dt, bias=1000.0, n_inputs=0, seed=seed)
    force = FORCE(1, alpha=0.5, every=20, feedback=5000.0, seed=seed + 1)

    def sine(t0, T):
        return np.sin(2 * np.pi * 5.0 * (t0 + np.arange(int(round(T / dt))) * dt) / 1000)[:, None]

    force.run(res, np.zeros((int(500 / dt), 0)), train=False)
    force.run(res, np.zeros((int(train_ms / dt), 0)), sine(500, train_ms))
    y = force.run(res, np.zeros((int(test_ms / dt), 0)), train=False)
    return np.corrcoef(y[:, 0], sine(500 + train_ms, test_ms)[:, 0])[0, 1]


def test_force_sine_nicola_clopath():
    """Nicola & Clopath (2017) 5 Hz sinusoid with their neuron, synapse and RLS constants
    (G = Q = 5000, P(0) = 2 I, RLS every 20 steps of 0.04 ms), smaller than the paper for
    CI: N = 300 (paper 2000), 2 s training (paper 5 s), 1 s test with learning off:
    correlation with the target > 0.9 (measured 0.97-0.994 over seeds 1-6)."""
    assert _sine(300, 2000.0) > 0.9


@pytest.mark.slow
def test_force_sine_paper_size():
    """The paper's size: N = 2000, 5 s training, first 1 s of testing (measured 0.973).
    Over a 5 s test the produced sine slips in phase: per-second correlations 0.97, 0.89,
    0.79, 0.54, 0.42 (N = 2000) and 0.997, 0.99, 0.97, 0.92, 0.85 (N = 1000)."""
    assert _sine(2000, 5000.0, 1000.0) > 0.9


@pytest.fixture(scope="module")
def probability_sweep():
    out = {}
    for p in (0.2, 0.5, 0.8):
        task = WhatWhenTask([{"latency": 250, "probabilities": [p], "n_trials": 200}],
                            trial_ms=400, seed=1)
        ro = ThreeFactorReadout(2, eta=[200.0, 6.0], modes=["online", "offline"],
                                gate_floor=0.5)
        y = run_three_factor(_reservoir(), ro, task)
        out[p] = (task, y[-100:].mean(axis=0), ro.W_.copy())
    return out


def test_when_readout_peaks_at_stimulus(probability_sweep):
    """After 200 trials, the when readout (mean of the last 100 trials) peaks within 20 ms of
    the stimulus time, for every probability."""
    for task, y, _ in probability_sweep.values():
        t_stim = task.cue_onset + 250
        assert metrics.timing_error(y[:, 0], task.times, t_stim) <= 20.0


def test_amplitude_tracks_probability(probability_sweep):
    """LMS converges to the conditional expectation: amplitude = p x template. Across
    p in {0.2, 0.5, 0.8}: Pearson r > 0.9 and slope 1 +/- 0.25, for the when readout
    (online) and the what readout (offline)."""
    ps = sorted(probability_sweep)
    for col, template in ((0, "template"), (1, "what_template")):
        amps = []
        for p in ps:
            task, y, _ = probability_sweep[p]
            t_stim = task.cue_onset + 250
            b = getattr(task, template)(t_stim)
            mask = (np.abs(task.times - t_stim) <= task.gate_halfwidth) if col == 0 else b > 0
            amps.append(metrics.amplitude(y[:, col], b, mask))
        fit = metrics.probability_fit(ps, amps)
        assert fit["pearson_r"] > 0.9, (col, amps)
        assert abs(fit["slope"] - 1.0) < 0.25, (col, amps)


def test_timing_survives_noise():
    """With an independent Gaussian current of std 2 per neuron and step, trials differ,
    and the when readout still peaks within 20 ms of the stimulus (measured 0-11 ms for
    std 0-3) with amplitude near p = 0.8."""
    task = WhatWhenTask([{"latency": 250, "probabilities": [0.8], "n_trials": 150}],
                        trial_ms=400, seed=1)
    ro = ThreeFactorReadout(2, eta=[200.0, 6.0], modes=["online", "offline"], gate_floor=0.5)
    res = Reservoir(200, n_inputs=2, seed=3, noise_std=2.0, **RES)
    y = run_three_factor(res, ro, task)[-75:].mean(axis=0)
    assert metrics.timing_error(y[:, 0], task.times, 270.0) <= 20.0
    near = np.abs(task.times - 270.0) <= 40
    assert abs(metrics.amplitude(y[:, 0], task.template(270.0), near) - 0.8) < 0.2


def _switch_errors(learner, n_pre, n_post, reset=False, lam=1.0):
    """Errors of the when readout after a latency switch 150 -> 300 ms (p = 1), over the
    windows around the old and the new stimulus time."""
    blocks = [{"latency": 150, "probabilities": [1.0], "n_trials": n_pre},
              {"latency": 300, "probabilities": [1.0], "n_trials": n_post}]
    task = WhatWhenTask(blocks, trial_ms=400, seed=1)
    if learner == "force":
        y = run_force(_reservoir(), FORCE(2, alpha=1e-4, every=10, lam=lam), task,
                      reset_at=[n_pre] if reset else [])
    else:
        ro = ThreeFactorReadout(2, eta=[200.0, 6.0], modes=["online", "offline"],
                                gate_floor=0.5)
        y = run_three_factor(_reservoir(), ro, task)
    t = task.times
    m = (np.abs(t - 170) <= 40) | (np.abs(t - 320) <= 40)
    return np.sqrt(((y[n_pre:, m, 0] - task.expected(1)[m, 0]) ** 2).mean(axis=1))


def _remaining(e, k=10, floor=0.09):
    """Fraction of the switch error still there after k post-switch trials, relative to
    the asymptotic error ``floor`` of a readout trained on the new latency alone."""
    return (e[k] - floor) / (e[0] - floor)


def test_force_adaptation_depends_on_history():
    """RLS without forgetting (lambda = 1) averages over all samples: after a switch it
    needs longer when pre-trained longer (theory: remaining error ~ n_pre/(n_pre + k));
    with a reset of P it recovers within 2 trials, and a forgetting factor lambda = 0.995
    (per update, 80 updates per trial) within 10. Measured ratios."""
    e10, e20 = _switch_errors("force", 10, 12), _switch_errors("force", 20, 12)
    reset = _switch_errors("force", 20, 12, reset=True)
    r10, r20 = _remaining(e10), _remaining(e20)
    assert r20 / r10 > 1.1
    assert r10 > 0.3
    assert _remaining(reset, k=2) < 0.1
    assert _remaining(_switch_errors("force", 20, 12, lam=0.995)) < 0.1


def test_three_factor_adaptation_independent_of_history():
    """After doubling pre-switch training (20 -> 40 trials) the fraction of the switch error
    left after 20 post-switch trials does not grow for the three-factor readout (measured
    0.41 -> 0.31; 0.30 with 80) but grows for RLS without reset (0.46 -> 0.64; 0.78 with
    80); with 40 pre-switch trials the three-factor error is the smaller one. Across
    reservoir seeds 3-6 the growth ratio (40 vs 20) was 0.76-1.15 for the three-factor
    readout and 1.39-1.44 for RLS."""
    tf = {n: _switch_errors("3f", n, 21) for n in (20, 40)}
    rls = {n: _switch_errors("force", n, 21) for n in (20, 40)}
    growth_tf = _remaining(tf[40], 20) / _remaining(tf[20], 20)
    growth_rls = _remaining(rls[40], 20) / _remaining(rls[20], 20)
    assert growth_tf < 1.2
    assert growth_rls > 1.3
    assert tf[40][20] < rls[40][20]


def test_probability_switch():
    """p: 0.9 -> 0.3 at a fixed latency. Mean when amplitude over post-switch trials 10-30:
    the three-factor readout is near 0.3 whatever the pre-training (20 or 40 trials); RLS
    without reset stays near the running average of all outcomes, further away after
    longer pre-training; with a reset of P it is near 0.3 again."""
    def late_amplitude(learner, n_pre, reset=False):
        blocks = [{"latency": 250, "probabilities": [0.9], "n_trials": n_pre},
                  {"latency": 250, "probabilities": [0.3], "n_trials": 30}]
        task = WhatWhenTask(blocks, trial_ms=400, seed=1)
        if learner == "force":
            y = run_force(_reservoir(), FORCE(2, alpha=1e-4, every=10), task,
                          reset_at=[n_pre] if reset else [])
        else:
            ro = ThreeFactorReadout(2, eta=[200.0, 6.0], modes=["online", "offline"],
                                    gate_floor=0.5)
            y = run_three_factor(_reservoir(), ro, task)
        b, near = task.template(270.0), np.abs(task.times - 270.0) <= 40
        return metrics.amplitude(y[n_pre + 10:].mean(axis=0)[:, 0], b, near)

    for n_pre in (20, 40):
        assert abs(late_amplitude("3f", n_pre) - 0.3) < 0.15
    rls = {n: late_amplitude("force", n) - 0.3 for n in (20, 40)}
    assert rls[20] > 0.2 and rls[40] / rls[20] > 1.1
    assert abs(late_amplitude("force", 40, reset=True) - 0.3) < 0.15


def _angles(seed, center, what_until):
    """(what/when angle, median over 50 neuron shuffles) in degrees after 200 trials,
    latency 250 ms, p = 0.8."""
    task = WhatWhenTask([{"latency": 250, "probabilities": [0.8], "n_trials": 200}],
                        trial_ms=400, seed=1, what_until=what_until)
    ro = ThreeFactorReadout(2, eta=[200.0, 6.0], modes=["online", "offline"], gate_floor=0.5,
                            center=center)
    run_three_factor(_reservoir(seed=seed), ro, task)
    W = ro.W_
    return (metrics.subspace_angle(W[1], W[0]),
            float(np.median(metrics.shuffled_angle(W[1], W[0], 50, seed=0))))


def test_what_when_near_orthogonal():
    """The what and when weight vectors end up closer to orthogonal than neuron-shuffled
    weights (unrelated vectors with the same values, |cos| ~ 1/sqrt(N)): with the what
    target held from the cue to the trial end (time-free identity) and centred features,
    the angle is above the shuffled median in every seed 1-6 and the mean |cos| is 0.54 of
    the shuffled one (measured here: 88.1-88.8 deg against 86.6-87.3). Seeds 1-8, N = 200:
    above in 8/8 at latency 150 (120 trials) and 250, 7/8 at 300, 8/8 240 trials after a
    switch 150 -> 300 ms, but 4/8 (|cos| ratio 0.90, i.e. as orthogonal as random) only 60
    trials after it, while the when readout is still re-adapting. Uncentred, the same
    target gives 8/8 at 250 ms but 5/8 at 300 ms (|cos| ratio 0.63-0.94).

    The claim depends on N: the learned |cos| stays at 0.01-0.05 whatever N (not a
    training-length or Bernoulli-noise effect: the same with 100 or 600 trials and with
    p = 1), while the shuffled one falls as 1/sqrt(N). Centred, latency 250 ms: N = 100
    3 of 3 seeds above; N = 500 2 of 4 (at the shuffled level); N = 1000 0 of 3 (86.7-88.6
    against 88.9-89.2 deg): still near-orthogonal, but not closer than random vectors.

    A what target that ends at the stimulus (``what_until="stimulus"``) carries "when" in
    its falling edge and is far less orthogonal than shuffled: 52-74 deg at 250 ms (0 of 8
    seeds above; 58-83 deg over the other cases)."""
    near = np.array([_angles(s, True, "trial_end") for s in range(1, 7)])
    assert np.all(near[:, 0] > near[:, 1]), near
    cos = np.abs(np.cos(np.radians(near)))
    assert cos[:, 0].mean() < 0.75 * cos[:, 1].mean(), near
    edge = np.array([_angles(s, False, "stimulus") for s in (3, 4)])
    assert np.all(edge[:, 0] < edge[:, 1] - 5.0), edge


def test_spec_evaluates():
    """models/what_when.toml through the lead's spec loader: the metrics the sweep uses."""
    m = evaluate(load_spec("what_when"), 1)
    assert {"adaptation_trials", "timing_error_ms", "amplitude_when"} <= set(m)
    assert m["timing_error_ms"] <= 20.0
    assert abs(m["amplitude_when"] - m["expected_when"]) < 0.2


def test_force_sine_spec():
    """models/force_sine.toml through core's loader and evaluate: the Nicola & Clopath sine
    with N = 500 (test correlation 0.97-0.998 over seeds 1-6; with N = 300 one seed in six
    gave 0.83). The spec's times are in ms (force.every_ms = 0.8: RLS every 20 steps)."""
    spec = load_spec("force_sine")
    assert spec["force"]["every_ms"] == 0.8
    assert evaluate(spec, 1)["test_correlation"] > 0.9


def test_reservoir_specs_take_units():
    """The reservoir kinds use core's schema: unit strings are converted (ms, Hz) and wrong
    types are named by core, as for izhikevich2003.toml."""
    import copy

    from biosim.core import BiosimError
    from biosim.core.spec import validate

    spec = copy.deepcopy(load_spec("what_when"))
    spec["reservoir"]["dt"] = "500 us"
    spec["task"]["trial_ms"] = "0.4 s"
    spec = validate(spec)
    assert spec["reservoir"]["dt"] == 0.5 and spec["task"]["trial_ms"] == 400.0
    spec["readout"]["center"] = "yes"
    with pytest.raises(BiosimError, match="readout.center: expected true or false"):
        validate(spec)
    force = copy.deepcopy(load_spec("force_sine"))
    force["run"]["frequency_hz"] = "5 Hz"
    assert validate(force)["run"]["frequency_hz"] == 5.0
    force["force"]["every_ms"] = 0.9  # not a multiple of dt = 0.04 ms
    with pytest.raises(BiosimError, match="force.every_ms"):
        validate(force)


@pytest.mark.parametrize("section, field, value, match", [
    ("reservoir", "g", -1.0, "reservoir.g"),
    ("readout", "eta_when", -1.0, "readout.eta"),
    ("readout", "colour", 1.0, "readout.colour"),
    ("task", "trial_ms", 100.0, r"task.blocks\[0\].latency"),
])
def test_spec_errors_name_the_field(section, field, value, match):
    import copy

    from biosim.core import BiosimError
    from biosim.reservoir import validate_spec

    spec = copy.deepcopy(load_spec("what_when"))
    spec[section][field] = value
    with pytest.raises(BiosimError, match=match):
        validate_spec(spec)
