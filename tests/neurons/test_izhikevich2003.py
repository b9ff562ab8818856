"""The 1000-neuron network of Izhikevich (2003), "Simple model of spiking neurons", IEEE TNN
14(6), Fig. 3: population rhythms in the alpha (8-13 Hz) and gamma (30-50 Hz) bands, at
plausible mean rates, over several seeds. Built from models/izhikevich2003.toml."""
import numpy as np
import pytest
from scipy.signal import welch

import biosim as bs


def spectrum(seed, duration=10_000.0):
    """Welch spectrum (0.5 Hz resolution) of the population spike count per 1 ms step."""
    net = bs.load_model("izhikevich2003", seed=seed)
    exc, inh = net.population("exc"), net.population("inh")
    counts = [net.monitor(exc, "rate"), net.monitor(inh, "rate")]
    net.run(duration)
    assert net.dt == 1.0
    total = counts[0].counts + counts[1].counts
    f, P = welch(total - total.mean(), fs=1000.0, nperseg=2048)
    rates = [c.counts.sum() / (c.source.n * duration * 1e-3) for c in counts]
    return f, P, rates


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_alpha_and_gamma_rhythms(seed):
    """Peaks in the alpha and gamma bands stand well above the flat high-frequency background
    (median power over 60-200 Hz) and above the slow (1-4 Hz) power; the gamma band's power
    falls off above it; mean rates of a few Hz (Fig. 3: sparse firing, ~8 Hz)."""
    f, P, (rate_exc, rate_inh) = spectrum(seed)
    band = lambda lo, hi: P[(f >= lo) & (f <= hi)]  # noqa: E731
    background = np.median(band(60, 200))
    alpha, gamma = band(8, 13).max(), band(30, 50).max()
    assert alpha > 10 * background
    assert alpha > 5 * band(1, 4).mean()
    assert gamma > 5 * background
    assert gamma > 2 * band(55, 100).max()
    assert 3.0 < rate_exc < 15.0 and 3.0 < rate_inh < 15.0
