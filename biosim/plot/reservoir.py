"""Plots of the what/when reservoir experiments. Each function draws on ``ax`` (or a new
figure) and returns the matplotlib ``Axes``."""
from __future__ import annotations

import numpy as np

from biosim.plot._axes import get_ax

__all__ = ["reservoir_raster", "readouts", "amplitude_vs_probability", "adaptation_curves"]


def reservoir_raster(spikes, dt, ax=None, n_exc=None, markersize=1.0):
    """Raster of a (steps, n) boolean spike array (time step ``dt`` ms); neurons from
    ``n_exc`` on are drawn in red (inhibitory)."""
    ax = get_ax(ax, figsize=(7, 3.5))
    steps, idx = np.nonzero(np.asarray(spikes))
    n_exc = spikes.shape[1] if n_exc is None else n_exc
    exc = idx < n_exc
    ax.plot(steps[exc] * dt, idx[exc], ".", ms=markersize, color="tab:blue", rasterized=True)
    ax.plot(steps[~exc] * dt, idx[~exc], ".", ms=markersize, color="tab:red", rasterized=True)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    return ax


def readouts(times, outputs, expected=None, labels=None, ax=None, events=()):
    """Readout outputs (steps, K) over a trial, with the expected targets dashed and
    vertical lines at ``events`` (ms, e.g. cue and stimulus)."""
    ax = get_ax(ax)
    outputs = np.atleast_2d(np.asarray(outputs).T).T
    labels = labels or [f"readout {k}" for k in range(outputs.shape[1])]
    for k in range(outputs.shape[1]):
        line, = ax.plot(times, outputs[:, k], label=labels[k])
        if expected is not None:
            ax.plot(times, np.asarray(expected)[:, k], "--", color=line.get_color(), lw=1)
    for t in events:
        ax.axvline(t, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("output")
    ax.legend(fontsize="small")
    return ax


def amplitude_vs_probability(probabilities, amplitudes, ax=None, label=None):
    """Learned amplitude against the stimulus probability, with the identity line."""
    ax = get_ax(ax, figsize=(3.5, 3.5))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.plot(probabilities, amplitudes, "o-", label=label)
    ax.set_xlabel("stimulus probability p")
    ax.set_ylabel("output amplitude")
    if label:
        ax.legend(fontsize="small")
    return ax


def adaptation_curves(errors, ax=None):
    """Error per trial after a switch for several learners: ``{label: errors}``."""
    ax = get_ax(ax)
    for label, e in errors.items():
        ax.plot(np.arange(len(e)), e, label=label)
    ax.set_xlabel("trials after the switch")
    ax.set_ylabel("RMS error")
    ax.legend(fontsize="small")
    return ax
