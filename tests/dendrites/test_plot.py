"""Dendrite plots return Axes with the data drawn."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from biosim.dendrites import theory as T  # noqa: E402
from biosim.plot import dendrites as P  # noqa: E402


def test_plots_return_axes():
    n = np.arange(300, 2000, 100)
    ax = P.error_curves(n, {"a=64": T.false_match_probability(n, 64, 24, 12)},
                        mc={"a=64": ([400], [1e-3], [1e-4])})
    assert len(ax.lines) >= 1 and ax.get_yscale() == "log"
    theta = np.arange(1, 25)
    ax = P.threshold_tradeoff(theta, T.false_match_probability(1024, 64, 24, theta),
                              T.false_negative_probability(64, 24, theta, 20))
    assert len(ax.lines) == 4
    acc = np.tril(np.full((3, 3), 0.8))
    acc[np.triu_indices(3, 1)] = np.nan
    assert P.accuracy_matrix(acc).images
    ax = P.final_task_accuracy({"a": {"accuracy": acc}, "b": {"accuracy": acc * 0.5}})
    assert len(ax.patches) == 6
    import matplotlib.pyplot as plt

    plt.close("all")
