"""Sweep plots: cell means and bands against closed-form means of a constructed table."""
import numpy as np
import pandas as pd
import pytest

from biosim.core.validation import BiosimError
from biosim.plot.sweep import sweep_heatmap, sweep_lines


def _table():
    """metric = 10 x + y + e, e = -1/+1 over two seeds: mean 10 x + y, std sqrt(2) exactly."""
    rows = [{"x": x, "y": y, "seed": s, "m": 10 * x + y + (-1) ** s, "status": "ok"}
            for x in (1e-3, 1e-2, 1e-1) for y in (20, 50) for s in (0, 1)]
    rows.append({"x": 1e-3, "y": 20, "seed": 2, "m": np.nan, "status": "error"})
    return pd.DataFrame(rows)


def test_heatmap_cells_are_means_with_spread():
    ax = sweep_heatmap(_table(), "x", "y", "m")
    img = ax.images[0].get_array()
    want = np.array([[10 * x + y for x in (1e-3, 1e-2, 1e-1)] for y in (20, 50)])
    np.testing.assert_allclose(img, want, rtol=1e-12)
    texts = [t.get_text() for t in ax.texts]
    assert texts[0] == f"{20.01:.3g}\n±{np.sqrt(2):.2g}" and len(texts) == 6
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.001", "0.01", "0.1"]
    ax = sweep_heatmap(_table(), "x", "y", "m", spread="sem", annotate=True)
    assert ax.texts[0].get_text().endswith(f"±{1.0:.2g}")  # sqrt(2) / sqrt(2)


def test_lines_with_bands_and_log_axis():
    ax = sweep_lines(_table(), "x", "m", hue="y")
    assert len(ax.lines) == 2 and ax.get_xscale() == "log"
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [50.01, 50.1, 51.0], rtol=1e-12)
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.max() == pytest.approx(21.0 + np.sqrt(2), rel=1e-12)
    assert sweep_lines(_table()[lambda d: d.y == 20], "x", "m", logx=False).get_xscale() == \
        "linear"


def test_plot_errors_name_the_field():
    with pytest.raises(BiosimError, match="^metric: expected a column"):
        sweep_heatmap(_table(), "x", "y", "nope")
    with pytest.raises(BiosimError, match="^df: expected one value of parameter 'y'"):
        sweep_lines(_table(), "x", "m")
    with pytest.raises(BiosimError, match="^hue: expected a column"):
        sweep_lines(_table(), "x", "m", hue="z")
