"""Plots of a sweep table (``bs.sweep`` / ``bs.sweep.load``): heatmaps and lines over seeds.

Only rows with status 'ok' are used; means and spreads are over seeds. Each function draws
on ``ax`` (or a new figure) and returns the matplotlib ``Axes``.
"""
from __future__ import annotations

import numpy as np

from biosim.core.validation import choice, fail
from biosim.plot._axes import get_ax

__all__ = ["sweep_heatmap", "sweep_lines"]


def sweep_heatmap(df, x, y, metric, ax=None, spread="std", annotate=True, cmap="viridis"):
    """Mean of ``metric`` over seeds for each (``x``, ``y``) point, one cell per value.

    Each cell is annotated ``mean`` / ``± spread`` (``spread``: 'std' or 'sem' over seeds).
    Axes are categorical (the swept values, in order), so log-spaced grids look even.
    """
    choice("spread", spread, ("std", "sem"))
    ok = _ok_rows(df, {"x": x, "y": y}, metric)
    groups = ok.groupby([y, x])[metric]
    mean = groups.mean().unstack(x)
    err = _spread(groups, spread).unstack(x).reindex_like(mean)
    ax = get_ax(ax, figsize=(1.1 * mean.shape[1] + 2.5, 0.6 * mean.shape[0] + 1.5))
    im = ax.imshow(mean.to_numpy(float), origin="lower", aspect="auto", cmap=cmap)
    ax.figure.colorbar(im, ax=ax, label=f"{metric} (mean over seeds)")
    ax.set_xticks(range(mean.shape[1]), [f"{v:.3g}" if _is_num(v) else v for v in mean.columns])
    ax.set_yticks(range(mean.shape[0]), [f"{v:.3g}" if _is_num(v) else v for v in mean.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if annotate:
        lo, hi = np.nanmin(mean.to_numpy(float)), np.nanmax(mean.to_numpy(float))
        for (i, j), m in np.ndenumerate(mean.to_numpy(float)):
            if np.isfinite(m):
                dark = (m - lo) < 0.5 * (hi - lo)
                ax.text(j, i, f"{m:.3g}\n±{err.iat[i, j]:.2g}", ha="center", va="center",
                        fontsize="small", color="white" if dark else "black")
    return ax


def sweep_lines(df, x, metric, hue=None, ax=None, band="std", logx=None):
    """``metric`` against ``x``: the mean over seeds, with a band of ± ``band`` ('std'/'sem').

    ``hue``: a second parameter, one line per value. ``logx``: log x axis (default: when
    the values are positive and span at least a factor of 100).
    """
    choice("band", band, ("std", "sem"))
    ok = _ok_rows(df, {"x": x} if hue is None else {"x": x, "hue": hue}, metric)
    ax = get_ax(ax)
    for value, part in ([(None, ok)] if hue is None else ok.groupby(hue, sort=False)):
        groups = part.groupby(x)[metric]
        mean, err = groups.mean(), _spread(groups, band).fillna(0.0)
        xs = mean.index.to_numpy(float)
        label = None if hue is None else f"{hue} = {value:.3g}" if _is_num(value) else \
            f"{hue} = {value}"
        (line,) = ax.plot(xs, mean.to_numpy(), "o-", ms=3, label=label)
        ax.fill_between(xs, mean - err, mean + err, color=line.get_color(), alpha=0.25, lw=0)
    values = ok[x].to_numpy(float)
    if logx if logx is not None else (values.min() > 0 and values.max() >= 100 * values.min()):
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{metric} (mean ± {band} over seeds)")
    if hue is not None:
        ax.legend(fontsize="small")
    return ax


def _ok_rows(df, axes, metric):
    """The 'ok' rows (``axes``: argument name -> column); other parameters must be fixed."""
    for field, name in {**axes, "metric": metric}.items():
        if name not in df.columns:
            fail(field, f"a column of the table ({', '.join(map(str, df.columns))})", name)
    ok = df[df["status"] == "ok"] if "status" in df.columns else df
    if ok.empty:
        fail("df", "at least one row with status 'ok'", "none")
    params = list(df.columns[:df.columns.get_loc("seed")]) if "seed" in df.columns else []
    for p in params:
        if p not in axes.values() and ok[p].nunique() > 1:
            fail("df", f"one value of parameter {p!r} (select one: df[df[{p!r}] == v]) "
                 "or plot it as an axis", f"{ok[p].nunique()} values")
    return ok


def _spread(groups, kind):
    std = groups.std(ddof=1)
    return std if kind == "std" else std / np.sqrt(groups.count())


def _is_num(v):
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
