"""Plots for dendritic pattern detectors and the active-dendrite continual-learning demo."""
from __future__ import annotations

import numpy as np

from biosim.plot._axes import get_ax

__all__ = ["error_curves", "threshold_tradeoff", "accuracy_matrix", "final_task_accuracy"]


def error_curves(x, curves: dict, *, mc: dict | None = None, xlabel: str = "n (input cells)",
                 ylabel: str = "probability of error", logy: bool = True, ax=None):
    """Theory curves ``{label: y}`` against ``x`` (log y), with optional Monte-Carlo points
    ``mc = {label: (x, p, se)}`` drawn as error bars (+-2 SE) in the same colour."""
    ax = get_ax(ax)
    for label, y in curves.items():
        y = np.asarray(y, float)
        (line,) = ax.plot(x, np.where(y > 0, y, np.nan), label=label)
        if mc and label in mc:
            xm, p, se = (np.asarray(v, float) for v in mc[label])
            ax.errorbar(xm, p, yerr=2 * se, fmt="o", ms=4, color=line.get_color(), capsize=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    return ax


def threshold_tradeoff(theta, p_false_match, p_false_negative, *, fp_weight: float = 1.0,
                       ax=None):
    """False-match and false-negative probabilities against the NMDA threshold theta, their
    (weighted) sum, and the optimum marked."""
    ax = get_ax(ax)
    theta = np.asarray(theta)
    fp, fn = np.asarray(p_false_match, float), np.asarray(p_false_negative, float)
    total = fp_weight * fp + fn
    for y, label in ((fp, "false match"), (fn, "false negative (noise)"), (total, "total")):
        ax.plot(theta, np.where(y > 0, y, np.nan), marker=".", label=label)
    best = theta[int(np.argmin(total))]
    ax.axvline(best, color="0.5", ls="--", lw=1, label=f"optimum theta = {best}")
    ax.set_yscale("log")
    ax.set_xlabel("NMDA threshold theta (synapses)")
    ax.set_ylabel("probability")
    ax.legend(fontsize="small")
    return ax


def accuracy_matrix(accuracy, *, title: str = "", ax=None):
    """Continual-learning accuracies: row i = after training task i, column j = task j."""
    ax = get_ax(ax, figsize=(4, 3.5))
    acc = np.asarray(accuracy, float)
    im = ax.imshow(acc, vmin=0, vmax=1, cmap="viridis")
    for (i, j), v in np.ndenumerate(acc):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="w" if v < 0.6 else "k")
    ax.set_xlabel("tested on task")
    ax.set_ylabel("after training task")
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return ax


def final_task_accuracy(results: dict, *, ax=None):
    """Final accuracy on each task for several networks ``{name: train_continual result}``."""
    ax = get_ax(ax)
    names = list(results)
    width = 0.8 / max(len(names), 1)
    for k, name in enumerate(names):
        final = np.asarray(results[name]["accuracy"], float)[-1]
        x = np.arange(final.size) + (k - (len(names) - 1) / 2) * width
        ax.bar(x, final, width, label=f"{name} (mean {np.mean(final):.2f})")
    ax.set_xlabel("task (0 = first learned)")
    ax.set_ylabel("test accuracy after all tasks")
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small")
    return ax
