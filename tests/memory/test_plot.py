"""Memory plots draw the data they are given."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from biosim.plot.memory import capacity, connections, learning  # noqa: E402


def test_plots_draw_the_data():
    curve = {"M": np.array([1, 2]), "error_1": np.array([0.1, 0.5]),
             "error_1_theory": np.array([0.1, 0.4]), "error_sos": np.array([0.0, 0.2]),
             "error_som": np.array([0.0, 0.1])}
    ax = capacity(curve, hopfield={"P": np.array([1, 2]), "error": np.array([0.5, 1.0])})
    assert np.array_equal(ax.lines[3].get_ydata(), [0.0, 0.1]) and len(ax.lines) == 5
    W = np.eye(6, dtype=bool)
    ax = connections(W, 3, 2, title="W")
    assert np.array_equal(ax.images[0].get_array(), W) and ax.get_title() == "W"
    ax = learning({"connections": [0, 3, 5]}, reference=5)
    assert np.array_equal(ax.lines[0].get_ydata(), [0, 3, 5])
    import matplotlib.pyplot as plt

    plt.close("all")
