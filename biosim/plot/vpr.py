"""Plots of place recognition: precision-recall curves, similarity matrices, example frames.

Each function draws on ``ax`` (or a new figure) and returns the matplotlib ``Axes``.
"""
from __future__ import annotations

import numpy as np

from biosim.plot._axes import get_ax

__all__ = ["pr_curve", "similarity_matrix", "frames"]


def pr_curve(precision, recall, ax=None, label=None, **kwargs):
    """Precision against recall (arrays from :func:`biosim.vpr.metrics.precision_recall_curve`).
    Several curves: call again with the same ``ax``."""
    ax = get_ax(ax, figsize=(4.5, 4))
    ax.plot(recall, precision, label=label, **kwargs)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    if label is not None:
        ax.legend(loc="lower left", fontsize="small")
    return ax


def similarity_matrix(similarity, ground_truth=None, ax=None, cmap="viridis"):
    """The reference x query similarity as an image (queries along x), with each query's best
    match marked (white: correct, red: wrong, when ``ground_truth`` is given)."""
    s = np.asarray(similarity, float)
    ax = get_ax(ax, figsize=(4.5, 4))
    im = ax.imshow(s, aspect="auto", origin="lower", cmap=cmap, interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, label="similarity")
    q = np.arange(s.shape[1])
    best = s.argmax(axis=0)
    if ground_truth is not None:
        ok = np.asarray(ground_truth, bool)[best, q]
        ax.plot(q[ok], best[ok], ".", ms=2, color="white", label="correct")
        ax.plot(q[~ok], best[~ok], ".", ms=2, color="tab:red", label="wrong")
    else:
        ax.plot(q, best, ".", ms=2, color="white")
    ax.set_xlabel("query")
    ax.set_ylabel("reference")
    return ax


def frames(traverses, index, ax=None):
    """A grid of frames: one row per traverse (a dict name -> images (n, H, W), uint8), one
    column per index in ``index``."""
    ax = get_ax(ax, figsize=(1.2 * len(index) + 1, 0.8 * len(traverses) + 0.5))
    rows = [np.concatenate([np.asarray(v)[i] for i in index], axis=1) for v in traverses.values()]
    ax.imshow(np.concatenate(rows, axis=0), cmap="gray", vmin=0, vmax=255)
    h = np.asarray(next(iter(traverses.values()))).shape[1]
    ax.set_yticks(h * (np.arange(len(traverses)) + 0.5), list(traverses))
    w = np.asarray(next(iter(traverses.values()))).shape[2]
    ax.set_xticks(w * (np.arange(len(index)) + 0.5), [str(i) for i in index])
    ax.set_xlabel("place")
    return ax
