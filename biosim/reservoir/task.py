"""The what/when prediction task: a cue, then after latency L a stimulus of identity i with
probability p_i (or nothing), in blocks in which L and p change.

Input channels (one row per step): 0 = cue (1 during the cue), 1..K = stimulus i (1 during
the stimulus). Target columns: 0 = "when" (a Gaussian bump of width ``target_width`` ms at
the stimulus time, in trials with any stimulus), 1..K = "what" i (1 from the cue onset on,
in trials with stimulus i: to the trial end with ``what_until="trial_end"``, the default,
or to the stimulus time + ``target_width`` with ``what_until="stimulus"``). Gate windows
(the actual stimulus): the when readout attends |t - t_stim| <= ``gate_halfwidth``, the
what readouts attend their whole target interval, in trials with a stimulus.

Why the default holds the what target to the trial end: the identity is known from the cue
on and does not depend on time, so a time-free what code carries no "when". A what plateau
that ends at the stimulus carries the stimulus time in its falling edge, and its readout
shares the fast (timing) weight directions of the when readout: what/when angle 52-89 deg
against 86-88 deg for neuron-shuffled weights (N = 200, seeds 1-12, tests/reservoir). Held
to the trial end, the what weights only need the smooth cue-locked directions, and the
angle is 86-90 deg, above the shuffled median in 5-8 of 8 seeds across latencies (7-8 of 8
with centred features; see test_claims.py) at N = 200; it stays 86-89 deg at N = 1000, where
shuffled weights reach 89 deg.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from biosim.core import validation as check
from biosim.core.random import make_rng
from biosim.reservoir.reservoir import DEFAULT_DT

#: ends of the what target
WHAT_UNTIL = ("trial_end", "stimulus")


@dataclass(frozen=True)
class Trial:
    """One trial's metadata: block index, latency L (ms), stimulus identity (-1: none),
    stimulus time (ms from trial start, cue onset + L)."""

    block: int
    latency: float
    identity: int
    t_stim: float


class WhatWhenTask:
    """Trial generator.

    Parameters
    ----------
    blocks : list of dict
        Each ``{"latency": ms, "probabilities": [p_1, ..., p_K], "n_trials": int}``; the
        p_i are in [0, 1] with sum <= 1 (1 - sum: no stimulus).
    trial_ms : float
        Trial length in ms.
    dt : float
        Time step in ms (default the reservoir's, :data:`~biosim.reservoir.reservoir.DEFAULT_DT`).
    cue_onset, cue_ms, stimulus_ms : float
        Cue onset and duration, stimulus duration (ms).
    target_width : float
        Width (ms) of the when bump (Gaussian sigma) and of the what tail.
    gate_halfwidth : float
        Half-width (ms) of the attention window around the actual stimulus.
    what_until : "trial_end" or "stimulus"
        End of the what target: the trial end (a time-free identity prediction, default)
        or the stimulus time + ``target_width``.
    seed : int, SeedSequence or Generator
    """

    def __init__(self, blocks, *, trial_ms=500.0, dt=DEFAULT_DT, cue_onset=20.0, cue_ms=50.0,
                 stimulus_ms=50.0, target_width=20.0, gate_halfwidth=40.0, what_until="trial_end",
                 seed=None):
        self.trial_ms = check.positive("trial_ms", trial_ms, "ms")
        self.dt = check.positive("dt", dt, "ms")
        self.cue_onset = check.nonnegative("cue_onset", cue_onset, "ms")
        self.cue_ms = check.positive("cue_ms", cue_ms, "ms")
        self.stimulus_ms = check.positive("stimulus_ms", stimulus_ms, "ms")
        self.target_width = check.positive("target_width", target_width, "ms")
        self.gate_halfwidth = check.positive("gate_halfwidth", gate_halfwidth, "ms")
        self.what_until = check.choice("what_until", what_until, WHAT_UNTIL)
        self.steps = int(round(self.trial_ms / self.dt))
        if not isinstance(blocks, (list, tuple)) or not blocks:
            check.fail("blocks", "a non-empty list of {latency, probabilities, n_trials}",
                       blocks)
        self.blocks = [self._block(k, b) for k, b in enumerate(blocks)]
        self.n_stimuli = len(self.blocks[0]["probabilities"])
        for k, b in enumerate(self.blocks):
            if len(b["probabilities"]) != self.n_stimuli:
                check.fail(f"blocks[{k}].probabilities", f"{self.n_stimuli} values (as block 0)",
                           list(b["probabilities"]))
        self.rng = make_rng(seed)

    def _block(self, k, b):
        where = f"blocks[{k}]"
        if not isinstance(b, dict):
            check.fail(where, "a dict with latency, probabilities, n_trials", b)
        unknown = set(b) - {"latency", "probabilities", "n_trials"}
        if unknown:
            check.fail(f"{where}.{sorted(unknown)[0]}", "one of latency, probabilities, n_trials",
                       "unknown")
        for key in ("latency", "probabilities", "n_trials"):
            if key not in b:
                check.fail(f"{where}.{key}", "a value (required)", "missing")
        lat = check.positive(f"{where}.latency", b["latency"])
        t_stim = self.cue_onset + lat
        if t_stim + 2.0 * self.target_width > self.trial_ms:
            check.fail(f"{where}.latency", f"cue_onset + latency + 2 target_width <= trial_ms "
                       f"= {self.trial_ms} ms (the stimulus must fall inside the trial)", lat)
        p = check.array(f"{where}.probabilities", b["probabilities"], ndim=1)
        if p.size == 0 or p.min() < 0.0 or p.max() > 1.0:
            check.fail(f"{where}.probabilities", "at least one value, each in [0, 1]",
                       p.tolist())
        if p.sum() > 1.0 + 1e-12:
            check.fail(f"{where}.probabilities", "a sum <= 1 (the rest is 'no stimulus')",
                       f"sum {p.sum():g}")
        n = check.integer(f"{where}.n_trials", b["n_trials"], low=1)
        return {"latency": lat, "probabilities": p, "n_trials": n}

    @property
    def n_trials(self) -> int:
        return sum(b["n_trials"] for b in self.blocks)

    @property
    def times(self) -> np.ndarray:
        """Step times in ms."""
        return np.arange(self.steps) * self.dt

    def trials(self) -> list[Trial]:
        """Draw every trial of every block (identities from this task's stream)."""
        out = []
        for k, b in enumerate(self.blocks):
            p = b["probabilities"]
            cum = np.concatenate([[0.0], np.cumsum(p)])
            u = self.rng.random(b["n_trials"])
            ids = np.searchsorted(cum, u, side="right") - 1
            ids[ids >= p.size] = -1
            ids[u >= cum[-1]] = -1
            t_stim = self.cue_onset + b["latency"]
            out += [Trial(k, b["latency"], int(i), t_stim) for i in ids]
        return out

    def inputs(self, trial: Trial) -> np.ndarray:
        """Input channels (steps, 1 + K)."""
        t = self.times
        x = np.zeros((self.steps, 1 + self.n_stimuli))
        x[:, 0] = (t >= self.cue_onset) & (t < self.cue_onset + self.cue_ms)
        if trial.identity >= 0:
            x[:, 1 + trial.identity] = (t >= trial.t_stim) & (t < trial.t_stim + self.stimulus_ms)
        return x

    def template(self, t_stim: float) -> np.ndarray:
        """The when bump for a stimulus at t_stim (peak 1)."""
        return np.exp(-0.5 * ((self.times - t_stim) / self.target_width) ** 2)

    def what_template(self, t_stim: float) -> np.ndarray:
        """The what plateau (1 from the cue onset to the end set by ``what_until``)."""
        t = self.times
        end = self.trial_ms if self.what_until == "trial_end" else t_stim + self.target_width
        return ((t >= self.cue_onset) & (t <= end)).astype(float)

    def targets(self, trial: Trial) -> np.ndarray:
        """Targets (steps, 1 + K): when, then what per identity (zeros without stimulus)."""
        y = np.zeros((self.steps, 1 + self.n_stimuli))
        if trial.identity >= 0:
            y[:, 0] = self.template(trial.t_stim)
            y[:, 1 + trial.identity] = self.what_template(trial.t_stim)
        return y

    def expected(self, block: int) -> np.ndarray:
        """The conditional expectation of the targets in a block (what an LMS readout
        converges to): (steps, 1 + K)."""
        b = self.blocks[block]
        t_stim = self.cue_onset + b["latency"]
        y = np.zeros((self.steps, 1 + self.n_stimuli))
        y[:, 0] = b["probabilities"].sum() * self.template(t_stim)
        for i, p in enumerate(b["probabilities"]):
            y[:, 1 + i] = p * self.what_template(t_stim)
        return y

    def window(self, trial: Trial, expected=None) -> np.ndarray:
        """Attention windows (steps, 1 + K): around the actual stimulus (trials with one) and
        around the expected stimulus, given as a time in ms or as a boolean mask over steps
        (e.g. where the previous trial's prediction was high); None: no expectation. The
        when readout attends within ``gate_halfwidth`` of these times, the what readouts
        their target interval (:meth:`what_template`) for the latest of them."""
        t = self.times
        when = np.zeros(self.steps, bool)
        ends = []
        if trial.identity >= 0:
            when |= np.abs(t - trial.t_stim) <= self.gate_halfwidth
            ends.append(trial.t_stim)
        if expected is not None:
            e = np.asarray(expected)
            if e.ndim == 0:
                e = np.abs(t - float(e)) <= 0.5 * self.dt
            elif e.shape != (self.steps,):
                check.fail("expected", f"a time in ms or a mask of {self.steps} steps",
                           f"shape {e.shape}")
            if e.any():
                half = int(round(self.gate_halfwidth / self.dt))
                when |= np.convolve(e.astype(float), np.ones(2 * half + 1), "same") > 0.5
                ends.append(t[np.nonzero(e)[0][-1]])
        w = np.zeros((self.steps, 1 + self.n_stimuli))
        w[:, 0] = when
        if ends:
            w[:, 1:] = self.what_template(max(ends))[:, None]
        return w
