"""Willshaw memory (closed forms, core ClippedHebbian) and the Hopfield baseline
(Q(sqrt(n/P)) one-step error; capacity compared with the clique network)."""
import numpy as np
import pytest

from biosim.core.plasticity import ClippedHebbian
from biosim.core.validation import BiosimError
from biosim.memory import CliqueNetwork, noise, theory
from biosim.memory.hopfield import HopfieldNetwork
from biosim.memory.willshaw import WillshawMemory


def _sparse_patterns(M, n, k, rng):
    idx = np.argsort(rng.random((M, n)), axis=1)[:, :k]
    P = np.zeros((M, n), bool)
    np.put_along_axis(P, idx, True, axis=1)
    return P, idx


def test_willshaw_storage_equals_core_clipped_hebbian():
    rng = np.random.default_rng(0)
    P, _ = _sparse_patterns(40, 150, 6, rng)
    W = np.zeros((150, 150))
    rule = ClippedHebbian()
    for x in P:
        rule.apply(W, x, x)
    mem = WillshawMemory(150).store(P[:13]).store(P[13:])
    assert np.array_equal(mem.dense_weights(), W == 1)


def test_willshaw_density_and_false_positives():
    """Willshaw et al. (1969): density 1 - (1 - k(k-1)/(n(n-1)))^M; false-positive rate of a
    silent unit with a k_cue-unit cue (binomial-conditioned form, see theory)."""
    rng = np.random.default_rng(1)
    n, k, M = 1024, 16, 3000
    P, idx = _sparse_patterns(M, n, k, rng)
    mem = WillshawMemory(n).store(P)
    assert abs(mem.density() - theory.willshaw_density(M, n, k)) < 0.005
    for k_cue in (4, 6):
        cue = np.zeros((400, n), bool)
        np.put_along_axis(cue, idx[:400, :k_cue], True, axis=1)
        out = mem.retrieve(cue)
        assert np.all(out[P[:400]])  # no stored unit is lost
        fp = (out & ~P[:400]).sum() / (400 * (n - k))
        assert fp == pytest.approx(theory.willshaw_false_positive(M, n, k, k_cue), rel=0.1)


def test_willshaw_bad_input():
    with pytest.raises(BiosimError, match="^n"):
        WillshawMemory(1)
    mem = WillshawMemory(8)
    with pytest.raises(BiosimError, match="^patterns"):
        mem.store(np.ones((2, 7), bool))
    with pytest.raises(BiosimError, match="^patterns"):
        mem.store(np.full((2, 8), 2))
    with pytest.raises(BiosimError, match="store"):
        mem.retrieve(np.ones((1, 8), bool))


def test_hopfield_one_step_bit_error():
    """Hertz, Krogh & Palmer (1991), eq. 2.17: one-step bit error Q(sqrt(n / P))."""
    rng = np.random.default_rng(2)
    n, P = 1024, 150
    X = rng.choice([-1.0, 1.0], (P, n))
    net = HopfieldNetwork(n).store(X)
    err = np.mean(np.sign(net.field(X)) != X)
    assert err == pytest.approx(theory.hopfield_bit_error(P, n), rel=0.15)
    assert theory.hopfield_capacity(2048) == pytest.approx(282.6, abs=0.1)


def test_clique_stores_far_more_than_hopfield_of_same_size():
    """Same n = 2048 neurons, half the information erased (4 of 8 clusters / half the bits):
    the clique network holds 10,000 messages below 5% error while the Hopfield network fails
    most cues already at its 0.138 n = 283 patterns (35x fewer)."""
    rng = np.random.default_rng(3)
    msgs = noise.random_messages(10000, 8, 256, rng)
    clique = CliqueNetwork(8, 256, rule="som").store(msgs)
    assert clique.error_rate(msgs[:1000], noise.erase_clusters(msgs[:1000], 4, rng)) < 0.05
    n, P = 2048, 283
    X = rng.choice([-1.0, 1.0], (P, n))
    cue = X[:100].copy()
    cue[rng.random(cue.shape) < 0.5] = 0.0
    out = HopfieldNetwork(n).store(X).retrieve(cue)
    assert np.mean(np.any(out != X[:100], axis=1)) > 0.5


def test_hopfield_bad_input():
    with pytest.raises(BiosimError, match="^patterns"):
        HopfieldNetwork(4).store([[1, 0, 1, 1]])
    with pytest.raises(BiosimError, match="^cue"):
        HopfieldNetwork(4).store([[1, -1, 1, 1]]).retrieve([[2, 0, 0, 0]])


def test_memories_save_load_and_fit(tmp_path):
    """Every memory is an Estimator: fit forgets, store adds, a loaded memory retrieves the
    same, and set_params validates as the constructor."""
    rng = np.random.default_rng(0)
    x = rng.random((20, 64)) < 0.1
    msgs = rng.integers(0, 16, (30, 4))
    pm = np.where(rng.random((5, 64)) < 0.5, 1.0, -1.0)
    cases = [(WillshawMemory(64), x, x[:5]), (CliqueNetwork(4, 16, rule="som"), msgs, msgs[:5]),
             (HopfieldNetwork(64), pm, pm)]
    for mem, data, cue in cases:
        mem.store(data[:3]).fit(data)
        again = type(mem)(**mem.get_params()).store(data)
        np.testing.assert_array_equal(mem.retrieve(cue), again.retrieve(cue))  # fit forgot
        mem.save(tmp_path / type(mem).__name__)
        back = type(mem).load(tmp_path / type(mem).__name__)
        np.testing.assert_array_equal(back.retrieve(cue), mem.retrieve(cue))
    with pytest.raises(BiosimError, match="^rule"):
        CliqueNetwork(4, 16).set_params(rule="max")
