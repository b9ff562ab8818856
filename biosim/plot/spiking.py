"""Plots of spiking networks: raster, voltage traces, population rate, weights.

Each function draws on ``ax`` (or a new figure) and returns the matplotlib ``Axes``.
"""
from __future__ import annotations

import numpy as np

from biosim.plot._axes import get_ax

__all__ = ["raster", "traces", "rate", "weights", "spectrum", "population_rate", "count_spectrum"]


def raster(spikes, ax=None, labels=None, colors=None, markersize=1.0):
    """Spike raster from a SpikeMonitor, a list of them (stacked), or ``(t_ms, i)``."""
    ax = get_ax(ax, figsize=(7, 4))
    groups = spikes if isinstance(spikes, (list, tuple)) and not _is_pair(spikes) else [spikes]
    colors = colors or ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange"]
    offset = 0
    for k, g in enumerate(groups):
        t, i, n = _times_indices(g)
        label = labels[k] if labels else None
        ax.plot(t, i + offset, ".", ms=markersize, color=colors[k % len(colors)], label=label,
                rasterized=True)
        offset += n
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    ax.set_ylim(-0.5, offset - 0.5 if offset else 1)
    if labels:
        ax.legend(loc="upper right", markerscale=8, fontsize="small")
    return ax


def _synapse_weights(W):
    """(weights of the existing synapses, (n_pre, n_post) matrix with NaN where none)."""
    from biosim.core import BiosimError, Projection, WeightMonitor

    if isinstance(W, WeightMonitor):
        if not len(W.t):
            raise BiosimError("W: the WeightMonitor has no record yet (run the network first)")
        w, pre, post, ws = W.values[-1], W.pre, W.post, W.source.weights
    elif isinstance(W, Projection):
        ws = W.weights
        w, pre, post = ws.flat_values(), ws.pre_of, ws.post_of
    else:
        M = np.asarray(W, float)
        return M.ravel(), M
    n = np.zeros((ws.n_pre, ws.n_post))
    M = np.zeros_like(n)
    np.add.at(M, (pre, post), w)
    np.add.at(n, (pre, post), 1.0)
    M[n == 0] = np.nan
    return np.asarray(w, float), M


def _is_pair(x):
    return len(x) == 2 and all(isinstance(a, np.ndarray) for a in x)


def _times_indices(g):
    if hasattr(g, "t") and hasattr(g, "i"):
        return g.t, g.i, g.source.n
    t, i = map(np.asarray, g)
    return t, i, int(i.max()) + 1 if i.size else 0


def traces(monitor, ax=None, max_traces=10):
    """Traces over time (ms) from a StateMonitor (e.g. v in mV), a WeightMonitor (one line per
    synapse) or an OrderParameterMonitor."""
    ax = get_ax(ax)
    v = monitor.values.reshape(len(monitor.t), -1)
    ax.plot(monitor.t, v[:, :max_traces], lw=0.8)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"{monitor.var}" + (" (mV)" if monitor.var == "v" else ""))
    return ax


def rate(monitor, ax=None, bin_ms=5.0):
    """Population rate (Hz) from a RateMonitor or a SpikeMonitor, in bins of ``bin_ms``."""
    ax = get_ax(ax)
    t, r = population_rate(monitor, bin_ms)
    ax.plot(t, r, lw=1.0)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("population rate (Hz)")
    return ax


def population_rate(monitor, bin_ms=5.0):
    """(bin start times in ms, rate in Hz) from a RateMonitor or a SpikeMonitor."""
    if hasattr(monitor, "counts"):
        counts, dt = monitor.counts, monitor.dt
    else:
        dt = monitor.dt
        counts = np.bincount(monitor.steps, minlength=int(monitor.steps.max(initial=0)) + 1)
    per_bin = max(1, int(round(bin_ms / dt)))
    n_bins = len(counts) // per_bin
    binned = counts[: n_bins * per_bin].reshape(n_bins, per_bin).sum(1)
    return np.arange(n_bins) * per_bin * dt, binned / (monitor.source.n * per_bin * dt * 1e-3)


def spectrum(monitor, ax=None, max_hz=100.0):
    """Power spectrum of the population spike count (Welch), e.g. alpha/gamma rhythms."""
    ax = get_ax(ax)
    f, p = count_spectrum(monitor)
    keep = (f > 0) & (f <= max_hz)
    ax.semilogy(f[keep], p[keep])
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("power of spike count")
    return ax


def count_spectrum(monitor, nperseg_ms=1000.0):
    """(frequencies in Hz, Welch power) of a monitor's per-step population spike count."""
    from scipy.signal import welch

    counts = monitor.counts if hasattr(monitor, "counts") else np.bincount(monitor.steps)
    fs = 1000.0 / monitor.dt
    nper = min(len(counts), int(nperseg_ms / monitor.dt))
    return welch(counts - counts.mean(), fs=fs, nperseg=nper)


def weights(W, ax=None, kind="matrix"):
    """Weight matrix (``kind="matrix"``) or histogram (``"hist"``) of an array, a Projection
    or a WeightMonitor (its last record). Only existing synapses are shown: absent ones are
    blank in the matrix and left out of the histogram."""
    from biosim.core.validation import choice

    kind = choice("kind", kind, ("matrix", "hist"))
    values, M = _synapse_weights(W)
    ax = get_ax(ax, figsize=(4.5, 4) if kind == "matrix" else (5, 3.5))
    if kind == "matrix":
        im = ax.imshow(M, aspect="auto", interpolation="nearest", cmap="viridis")
        ax.figure.colorbar(im, ax=ax, label="weight")
        ax.set_xlabel("post")
        ax.set_ylabel("pre")
    else:
        ax.hist(values[np.isfinite(values)], bins=50)
        ax.set_xlabel("weight")
        ax.set_ylabel("synapses")
    return ax
