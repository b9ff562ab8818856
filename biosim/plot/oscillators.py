"""Plots of phase oscillators: order parameter r(t), phases on the unit circle, r(K)
against theory, and object-discovery segmentations.

Each function draws on ``ax`` (or a new figure) and returns the matplotlib ``Axes``.
"""
from __future__ import annotations

import numpy as np

from biosim.plot._axes import get_ax

__all__ = ["order_parameter_trace", "phase_circle", "sync_transition", "segmentation"]


def order_parameter_trace(t, r, ax=None, label=None, theory=None):
    """r(t) (time in the simulation's units); ``theory``: a horizontal reference line."""
    ax = get_ax(ax)
    ax.plot(np.asarray(t), np.asarray(r), lw=1.0, label=label)
    if theory is not None:
        ax.axhline(theory, color="k", ls="--", lw=0.8, label="theory")
    ax.set_xlabel("time")
    ax.set_ylabel("order parameter r")
    ax.set_ylim(0, 1.02)
    if label is not None or theory is not None:
        ax.legend(loc="lower right", fontsize="small")
    return ax


def phase_circle(theta, ax=None, color=None, size=6.0, show_mean=True):
    """Phases (rad) as points on the unit circle; the arrow is the mean field r e^{i psi}.
    ``color``: per-unit values (e.g. natural frequencies) or one colour."""
    ax = get_ax(ax, figsize=(4, 4))
    th = np.asarray(theta, float).ravel()
    s = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(s), np.sin(s), color="0.7", lw=0.8)
    ax.scatter(np.cos(th), np.sin(th), c=color, s=size, cmap="viridis", zorder=3)
    if show_mean:
        z = np.exp(1j * th).mean()
        ax.annotate("", xy=(z.real, z.imag), xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", color="tab:red", lw=1.5))
        ax.set_title(f"r = {abs(z):.3f}")
    ax.set_aspect("equal")
    ax.set_xlim(-1.15, 1.15)
    ax.set_ylim(-1.15, 1.15)
    ax.axis("off")
    return ax


def sync_transition(K, r, ax=None, theory_K=None, theory_r=None, label="simulation",
                    theory_label="theory"):
    """Stationary r against coupling K, with an optional theory curve."""
    ax = get_ax(ax)
    if theory_K is not None:
        ax.plot(theory_K, theory_r, "k-", lw=1.0, label=theory_label)
    ax.plot(K, r, "o", ms=4, label=label)
    ax.set_xlabel("coupling K")
    ax.set_ylabel("stationary r")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right", fontsize="small")
    return ax


def segmentation(image, labels, ax=None, title=None):
    """An image with a label map (0 = background) drawn over it."""
    ax = get_ax(ax, figsize=(3, 3))
    ax.imshow(np.asarray(image), cmap="gray", vmin=0, vmax=1)
    lab = np.ma.masked_equal(np.asarray(labels), 0)
    ax.imshow(lab, cmap="tab10", alpha=0.55, vmin=0, vmax=9, interpolation="nearest")
    if title:
        ax.set_title(title, fontsize="small")
    ax.axis("off")
    return ax
