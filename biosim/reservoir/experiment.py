"""Drivers that run the what/when task on a reservoir with a three-factor or a FORCE
readout, trial after trial, with the attention schedule of the three-factor rule."""
from __future__ import annotations

import numpy as np

from biosim.core import validation as check


def run_three_factor(reservoir, readout, task, trials=None, *, stimulus_gain=0.0,
                     expect_threshold=0.1, reset_state=True, consolidate="trial"):
    """Run ``trials`` (default ``task.trials()``) with learning; returns the outputs
    (n_trials, steps, 1 + K).

    Attention: each trial attends the actual stimulus and the expected stimulus times,
    those where the when readout (output 0) predicted >= ``expect_threshold`` in the
    previous trial (no expectation before the first trial). ``stimulus_gain`` scales the
    stimulus channels into the reservoir (0: stimuli act only through the error, so the
    readouts can only predict them from the cue). ``reset_state``: each trial starts
    from the reservoir's initial state (a long inter-trial interval). ``consolidate``:
    the offline (what) readouts take their accumulated change at the end of every
    ``"trial"`` or of every ``"block"`` (and of the run); a block's change is the sum
    over its trials, so scale the what learning rate by 1 / (trials per block)."""
    consolidate = check.choice("consolidate", consolidate, ("trial", "block"))
    trials = task.trials() if trials is None else trials
    gains = np.concatenate([[1.0], np.full(task.n_stimuli, stimulus_gain)])
    out = np.zeros((len(trials), task.steps, 1 + task.n_stimuli))
    expected = None
    for k, tr in enumerate(trials):
        if reset_state:
            reservoir.reset_state()
        last = k + 1 == len(trials) or trials[k + 1].block != tr.block
        out[k] = readout.trial(reservoir, task.inputs(tr) * gains, task.targets(tr),
                               task.window(tr, expected),
                               consolidate=consolidate == "trial" or last)
        expected = out[k, :, 0] >= expect_threshold
    return out


def run_force(reservoir, force, task, trials=None, *, stimulus_gain=0.0, reset_state=True,
              reset_at=()):
    """Run ``trials`` with a :class:`~biosim.reservoir.FORCE` readout learning every trial;
    ``reset_at``: trial indices at which P is reset to I/alpha. Returns the outputs."""
    trials = task.trials() if trials is None else trials
    gains = np.concatenate([[1.0], np.full(task.n_stimuli, stimulus_gain)])
    out = np.zeros((len(trials), task.steps, 1 + task.n_stimuli))
    reset_at = {check.integer("reset_at", k, low=0) for k in reset_at}
    for k, tr in enumerate(trials):
        if reset_state:
            reservoir.reset_state()
        if k in reset_at:
            force.reset_P()
        out[k] = force.run(reservoir, task.inputs(tr) * gains, task.targets(tr))
    return out
