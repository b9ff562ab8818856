"""Plots of associative memories: capacity curves, binary weight matrices, the growth of
connections during learning.

Each function draws on ``ax`` (or a new figure) and returns the matplotlib ``Axes``.
"""
from __future__ import annotations

import numpy as np

from biosim.plot._axes import get_ax

__all__ = ["capacity", "connections", "learning"]


def capacity(curve, ax=None, hopfield=None):
    """Retrieval error against stored messages from
    :func:`biosim.memory.capacity.clique_capacity_curve` (one iteration measured and in
    closed form, sum-of-sum and sum-of-max after iterating); ``hopfield`` adds
    :func:`~biosim.memory.capacity.hopfield_capacity_curve` (patterns on the same axis)."""
    ax = get_ax(ax, figsize=(6, 3.5))
    M = curve["M"]
    ax.plot(M, curve["error_1_theory"], "k-", label="one iteration, theory")
    ax.plot(M, curve["error_1"], "ko", ms=4, label="one iteration, measured")
    ax.plot(M, curve["error_sos"], "s-", color="tab:blue", ms=4, label="sum-of-sum, iterated")
    ax.plot(M, curve["error_som"], "^-", color="tab:orange", ms=4, label="sum-of-max, iterated")
    if hopfield is not None:
        ax.plot(hopfield["P"], hopfield["error"], "d-", color="tab:red", ms=4,
                label="Hopfield, same n")
        ax.set_xscale("log")
    ax.set_xlabel("stored messages")
    ax.set_ylabel("retrieval error")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize="small")
    return ax


def connections(W, c, l, ax=None, title=None):
    """Binary connection matrix (n, n) with cluster boundaries."""
    ax = get_ax(ax, figsize=(4, 4))
    ax.imshow(np.asarray(W, bool), cmap="Greys", interpolation="nearest")
    for k in range(1, c):
        ax.axhline(k * l - 0.5, color="tab:blue", lw=0.5)
        ax.axvline(k * l - 0.5, color="tab:blue", lw=0.5)
    ax.set_xlabel("neuron")
    ax.set_ylabel("neuron")
    if title:
        ax.set_title(title)
    return ax


def learning(history, ax=None, reference=None):
    """Permanent connections after each input (``CoyacLearner.history_``); ``reference`` draws
    the number of connections of the clean clique memory."""
    ax = get_ax(ax, figsize=(6, 3))
    conn = np.asarray(history["connections"])
    ax.plot(np.arange(1, len(conn) + 1), conn, label="permanent connections")
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1, label="clean clique memory")
    ax.set_xlabel("noisy inputs")
    ax.set_ylabel("connections")
    ax.legend(fontsize="small")
    return ax
