"""Triplet STDP with nearest-spike traces and the per-neuron weight normalisation, against
the rule as Diehl & Cook (2015) wrote it in Brian2 (``on_pre: pre = 1; w -= nu_pre post1``,
``on_post: post2before = post2; w += nu_post pre post2before; post1 = 1; post2 = 1``),
computed by hand from the spike times."""
import math

import numpy as np
import pytest

import biosim as bs
from biosim.core.validation import BiosimError

NU_PRE, NU_POST, DT = 1e-3, 0.05, 1.0


def _run(pre_steps, post_steps, n_steps, w0=0.5, delay=0, modulator=1.0):
    """One synapse 0 -> 0 driven through ``apply`` (step by step), with ``delay`` steps."""
    rule = bs.TripletSTDP(nu_pre=NU_PRE, nu_post=NU_POST, tau_pre=20.0, tau_post1=20.0,
                          tau_post2=40.0)
    rule.delay_ = np.array([delay])
    W = np.full((1, 1), w0)
    for n in range(n_steps):
        rule.apply(W, [float(n in pre_steps)], [float(n in post_steps)], DT, modulator)
    return W[0, 0]


def test_pre_after_post_depresses_by_post1():
    """post at 0, pre at 7: w -= nu_pre exp(-7 / tau_post1)."""
    assert _run({7}, {0}, 10) == pytest.approx(0.5 - NU_PRE * math.exp(-7 / 20), abs=1e-15)


def test_post_after_pre_potentiates_by_pre_times_post2():
    """posts at 0 and 12, pre at 5: the pre arrival depresses by post1(5); the second post
    potentiates by pre(7) x post2(12) (read before this post spike resets it)."""
    want = 0.5 - NU_PRE * math.exp(-5 / 20) + NU_POST * math.exp(-7 / 20) * math.exp(-12 / 40)
    assert _run({5}, {0, 12}, 15) == pytest.approx(want, abs=1e-15)


def test_a_single_post_spike_does_not_potentiate():
    """post2 before the first post spike is 0 (the triplet term needs an earlier post)."""
    assert _run({3}, {8}, 12) == 0.5


def test_the_delay_moves_the_arrival():
    """pre fired at 5 with a 4-step delay arrives at 9: the post at 9 sees pre(0) = 1 and the
    arrival's depression reads post1 at 9 - 0 = 9 steps after the first post."""
    want = 0.5 - NU_PRE * math.exp(-9 / 20) + NU_POST * 1.0 * math.exp(-9 / 40)
    assert _run({5}, {0, 9}, 12, delay=4) == pytest.approx(want, abs=1e-15)


def test_bounds_and_modulator():
    assert _run({5}, {0, 6}, 9, w0=1.0) == 1.0                    # clipped at w_max
    assert _run({5}, {0, 12}, 15, modulator=0.0) == 0.5           # frozen
    half = _run({5}, {0, 12}, 15, modulator=0.5)
    assert half - 0.5 == pytest.approx(0.5 * (_run({5}, {0, 12}, 15) - 0.5), rel=1e-12)


def test_in_a_network_each_synapse_has_its_projection_delay():
    net = bs.Network(dt=0.5, seed=1)
    src = net.add(bs.PoissonGroup(6, 100.0, name="src"))
    lif = net.add(bs.LIF(3, name="lif"))
    net.add(bs.ConstantCurrent(lif, 30.0))
    delay = 0.5 * np.arange(18) % 3.0
    proj = net.connect(src, lif, weight=0.2, delay=delay, sparse=True,
                       rule=bs.TripletSTDP(nu_pre=1e-3, nu_post=0.05))
    np.testing.assert_array_equal(proj.rule.delay_, np.rint(delay / 0.5))
    net.run(50.0)
    assert np.ptp(proj.weights.data) > 0
    with pytest.raises(BiosimError, match="rule"):  # reads spikes only
        net2 = bs.Network(dt=0.5)
        a = net2.add(bs.PoissonGroup(2, 1.0, name="a"))
        from biosim.reservoir.network import LinearReadout
        b = net2.add(LinearReadout(2, name="b"))
        net2.connect(a, b, weight=0.1, rule=bs.TripletSTDP())


def test_normalize_incoming_sets_each_column_sum():
    rng = np.random.default_rng(0)
    W = rng.random((7, 4))
    W[:, 2] = 0.0
    want = W / np.where(W.sum(0) > 0, W.sum(0), 1.0) * 3.0
    dense = W.copy()
    bs.normalize_incoming(dense, 3.0)
    np.testing.assert_allclose(dense, want, rtol=1e-14)
    csr, _ = bs.Weights.from_pairs(*np.divmod(np.arange(28), 4), W.ravel(), 7, 4)
    bs.normalize_incoming(csr, 3.0)
    np.testing.assert_allclose(csr.to_dense(), want, rtol=1e-14)
    with pytest.raises(BiosimError, match="total"):
        bs.normalize_incoming(W, 0.0)
