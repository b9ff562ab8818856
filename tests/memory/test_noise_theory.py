"""Noise channels (seeded; rates against scipy's normal distribution) and closed forms."""
import numpy as np
import pytest
from scipy.stats import norm

from biosim.core.validation import BiosimError
from biosim.memory import noise, theory


def test_synaptic_noise_reduces_to_insertions_and_erasures():
    """Coyac et al. (2017): thresholded Gaussian noise = insertions Q(th/sigma) and erasures
    Phi((th - 1)/sigma); rates checked against scipy.stats.norm."""
    x = np.zeros(400_000, bool)
    x[::2] = True
    y = noise.synaptic_noise(x, sigma=0.3, threshold=0.6, seed=0)
    p_ins, p_era = theory.quantized_noise_rates(0.3, 0.6)
    assert p_ins == pytest.approx(norm.sf(0.6 / 0.3))
    assert p_era == pytest.approx(norm.cdf(-0.4 / 0.3))
    assert np.mean(y[~x]) == pytest.approx(p_ins, rel=0.05)
    assert np.mean(~y[x]) == pytest.approx(p_era, rel=0.03)
    assert np.array_equal(y, noise.synaptic_noise(x, 0.3, 0.6, seed=0))


def test_erasures_and_insertions():
    m = noise.random_messages(500, 8, 32, seed=1)
    e = noise.erase_clusters(m, 3, seed=2)
    assert np.all((e == -1).sum(axis=1) == 3) and np.all((e == m) | (e == -1))
    act = noise.to_activity(e, 32)
    ins = noise.insert_per_cluster(act, 2, seed=3)
    assert np.all(ins.sum(axis=2) == act.sum(axis=2) + 2) and np.all(ins[act])
    f = noise.flip(act, p_insert=0.1, p_erase=0.5, seed=4)
    assert np.mean(f[~act]) == pytest.approx(0.1, abs=0.01)
    assert np.mean(~f[act]) == pytest.approx(0.5, abs=0.03)


def test_theory_values_and_errors():
    """Gripon & Berrou (2011): d(15000) = 0.2046, P_e = 0.833 (c = 8, l = 256, c_e = 4)."""
    assert theory.clique_density(15000, 8, 256) == pytest.approx(0.2046, abs=1e-4)
    assert theory.one_iteration_error(15000, 8, 256, 4) == pytest.approx(0.833, abs=1e-3)
    # with chi = c clusters the sparse density reduces to the dense one
    assert theory.sparse_clique_density(15000, 8, 8, 256) == pytest.approx(0.2046, abs=1e-4)
    # efficiency: M c log2 l bits over c (c - 1) l^2 / 2 weights
    assert theory.clique_efficiency(15000, 8, 256) == pytest.approx(15000 * 64 / (28 * 65536))
    cond = theory.one_iteration_error_conditional([10000, 15000], 8, 256, 4)
    assert np.all(cond > theory.one_iteration_error(np.array([10000, 15000]), 8, 256, 4))
    with pytest.raises(BiosimError, match="^l"):
        theory.clique_density(10, 8, 1)
    with pytest.raises(BiosimError, match="^c"):
        theory.one_iteration_error(10, 1, 8, 0)
    with pytest.raises(BiosimError, match="^n_erased"):
        theory.one_iteration_error(10, 8, 8, 8)
