"""Order parameters, phase locking, plots."""
import numpy as np
import pytest

from biosim.core.validation import BiosimError
from biosim.oscillators import (local_order_parameter, order_parameter, phase_locking_value,
                                ring_order_parameter)


def test_order_parameter_closed_forms():
    """N equally spaced phases: r = 0; all equal: r = 1, psi = the phase; two phases a, b:
    r = |cos((a - b) / 2)|, psi = (a + b) / 2."""
    r, _ = order_parameter(np.linspace(0, 2 * np.pi, 12, endpoint=False))
    assert r == pytest.approx(0.0, abs=1e-12)
    r, psi = order_parameter(np.full(5, 0.7))
    assert (r, psi) == pytest.approx((1.0, 0.7))
    r, psi = order_parameter([0.2, 1.4])
    assert (r, psi) == pytest.approx((np.cos(0.6), 0.8))
    rt, _ = order_parameter(np.zeros((4, 3)))
    assert rt.shape == (4,)


def test_random_phases_r_squared_is_one_over_n():
    """Independent uniform phases: E[r^2] = 1/N exactly."""
    rng = np.random.default_rng(0)
    r, _ = order_parameter(rng.uniform(0, 2 * np.pi, (4000, 50)))
    assert np.mean(r ** 2) == pytest.approx(1 / 50, rel=0.06)


def test_local_and_ring_order_parameters():
    theta = np.concatenate([np.full(10, 1.0), np.linspace(0, 2 * np.pi, 10, endpoint=False)])
    r, psi = local_order_parameter(theta, np.repeat([0, 1], 10))
    assert r == pytest.approx([1.0, 0.0], abs=1e-12)
    assert psi[0] == pytest.approx(1.0)
    ring = ring_order_parameter(theta, 2)
    assert ring.shape == (20,)
    assert ring[2:8] == pytest.approx(1.0)
    # a window of 5 consecutive equally spaced phases (step 2 pi / 10)
    expected = abs(np.exp(1j * 2 * np.pi / 10 * np.arange(5)).mean())
    assert ring[15] == pytest.approx(expected)
    with pytest.raises(BiosimError, match="^groups:"):
        local_order_parameter(theta, np.repeat([0, 2], 10))


def test_phase_locking_value():
    """Locked pair with constant lag: PLV = 1; independent uniform phases: PLV ~ 1/sqrt(T)."""
    t = np.linspace(0, 50, 2000)
    a, b = 1.3 * t, 1.3 * t + 0.9
    assert phase_locking_value(a, b) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    plv = phase_locking_value(rng.uniform(0, 2 * np.pi, 2000), rng.uniform(0, 2 * np.pi, 2000))
    assert plv < 4 / np.sqrt(2000)
    M = phase_locking_value(np.stack([a, b, rng.uniform(0, 6.3, 2000)], 1))
    assert M.shape == (3, 3)
    assert M[0, 1] == pytest.approx(1.0) and M[0, 2] < 0.1
    np.testing.assert_allclose(np.diag(M), 1.0)


def test_plots_return_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from biosim.plot.oscillators import (order_parameter_trace, phase_circle, segmentation,
                                         sync_transition)

    ax = order_parameter_trace(np.arange(5), np.linspace(0, 1, 5), theory=0.5)
    assert ax.get_ylabel() == "order parameter r"
    ax = phase_circle(np.array([0.1, 0.2, 3.0]), color=[1, 2, 3])
    assert ax.get_title().startswith("r = ")
    sync_transition([1, 2], [0.1, 0.5], theory_K=[1, 2], theory_r=[0, 0.5])
    segmentation(np.zeros((4, 4)), np.eye(4, dtype=int))
    plt.close("all")
