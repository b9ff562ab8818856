import numpy as np

from biosim.plot.reservoir import (adaptation_curves, amplitude_vs_probability, readouts,
                                   reservoir_raster)


def test_plots_return_axes():
    t = np.arange(100) * 0.5
    y = np.random.default_rng(0).random((100, 2))
    assert reservoir_raster(y > 0.9, 0.5, n_exc=1).get_xlabel() == "time (ms)"
    assert len(readouts(t, y, y, ["a", "b"], events=(10,)).lines) == 5
    assert amplitude_vs_probability([0.2, 0.5], [0.2, 0.5]) is not None
    assert adaptation_curves({"x": [1, 0.5]}).get_ylabel() == "RMS error"
