"""The VPRSNN network on both backends.

References: Hussaini, Milford & Fischer (RA-L 2022) and their Brian2 code (QVPR/VPRSNN,
``snn_model.py``), after Diehl & Cook (2015): Poisson inputs at pixel / 4 Hz, the timer quirk
that caps an excitatory neuron at 7 spikes per 350 ms image, the two STDP sign conventions,
the normalisation of each neuron's input weights to 78, theta += 0.05 mV per spike.
"""
import numpy as np
import pytest

from biosim.core.validation import BiosimError
from biosim.vpr.snn_numba import NumbaVPRSNN, SNNParams, poisson_input_counts

RNG = np.random.default_rng(7)
IMAGES = RNG.integers(0, 256, (6, 784)).astype(float)


@pytest.mark.parametrize("dt", [0.5, 0.1])
def test_poisson_inputs_match_the_binomial_closed_form(dt):
    """Counts per 350 ms presentation ~ Binomial(350 ms / dt, pixel / 4 Hz * dt)."""
    p = SNNParams(dt=dt)
    pixels = np.tile(np.array([0.0, 40.0, 128.0, 255.0]), (400, 1))
    c = poisson_input_counts(pixels, p, seed=1)
    prob = pixels[0] / 4 * p.dt * 1e-3
    mean, var = p.present_steps * prob, p.present_steps * prob * (1 - prob)
    assert np.all(np.abs(c.mean(axis=0) - mean) <= 4 * np.sqrt(var / 400) + 1e-12)
    np.testing.assert_allclose(c.var(axis=0)[1:], var[1:], rtol=0.25)
    assert c[:, 0].sum() == 0


def _strong_drive(**kw):
    """Saturated input, no lateral inhibition: each neuron fires as fast as it may."""
    params = SNNParams(w_ie=0.0, **kw)
    net = NumbaVPRSNN(1, 784, 5, params, seed=2)
    return net.present([np.full((4, 784), 255.0)], train=False)[0]


def test_timer_quirk_caps_at_seven_spikes_per_image():
    """Diehl & Cook's timer (0.1 ms per ms, must exceed 5 ms): <= 7 spikes per 350 ms."""
    c = _strong_drive()
    assert c.max() == 7
    # the intended 5 ms refractoriness (timer rate 1) lets a driven neuron fire far more
    assert _strong_drive(timer_rate=1.0).max() > 20


def test_frozen_network_keeps_weights_and_thresholds():
    net = NumbaVPRSNN(1, 784, 10, seed=3)
    W, theta = net.modules[0]["W"].copy(), net.modules[0]["theta"].copy()
    net.present([IMAGES], train=False)
    np.testing.assert_array_equal(net.modules[0]["W"], W)
    np.testing.assert_array_equal(net.modules[0]["theta"], theta)


def test_normalisation_and_theta_without_stdp():
    """With learning rates 0 each column sums to 78 after training (normalised before every
    image), and theta grows by 0.05 mV per spike (the counts cover the 350 ms presentations;
    the 150 ms rests may add spikes) while decaying with tau 1e7 ms."""
    p = SNNParams(nu_pre=0.0, nu_post=0.0)
    net = NumbaVPRSNN(1, 784, 10, p, seed=4)
    c = net.present([IMAGES], train=True)[0]
    np.testing.assert_allclose(net.modules[0]["W"].sum(axis=0), 78.0, rtol=1e-12)
    steps = len(IMAGES) * (p.present_steps + p.rest_steps)
    n_spikes = (net.modules[0]["theta"] - 20.0 * (1 - p.dt / p.tau_theta) ** steps) / 0.05
    np.testing.assert_allclose(n_spikes, np.rint(n_spikes), atol=0.02)
    assert np.all(np.rint(n_spikes) >= c.sum(axis=0)) and c.sum() > 0


@pytest.mark.parametrize("stdp, sign", [("vprsnn", 1.0), ("diehl_cook", -1.0)])
def test_stdp_sign_conventions(stdp, sign):
    """Pre-synaptic term only (nu_post = 0): VPRSNN's Brian2 port adds nu_pre * post1,
    Diehl & Cook subtract it. Compare with the normalised weights before the last image."""
    params = SNNParams(nu_post=0.0, nu_pre=1e-3, stdp=stdp)
    net = NumbaVPRSNN(1, 784, 10, params, seed=5)
    net.present([IMAGES[:3]], train=True)
    W = net.modules[0]["W"]
    before = W * (78.0 / W.sum(axis=0))
    c = net.present([IMAGES[3:4]], train=True)[0]
    dw = net.modules[0]["W"] - before
    fired = c[0] > 0
    assert fired.any()
    assert np.all(sign * dw >= -1e-12)
    assert np.all(sign * dw[:, fired].sum(axis=0) > 0)
    # each pre arrival changes w by at most nu_pre (post1 <= 1)
    counts = poisson_input_counts(IMAGES[3:4], params, seed=0)
    assert np.abs(dw).max() <= 1e-3 * (counts.max() + 10)


def test_post_term_potentiates_only():
    params = SNNParams(nu_pre=0.0)
    net = NumbaVPRSNN(1, 784, 10, params, seed=6)
    net.present([IMAGES[:3]], train=True)
    W = net.modules[0]["W"]
    before = W * (78.0 / W.sum(axis=0))
    net.present([IMAGES[3:]], train=True)   # several images: compare first one only
    net2 = NumbaVPRSNN(1, 784, 10, params, seed=6)
    net2.present([IMAGES[:3]], train=True)
    net2.present([IMAGES[3:4]], train=True)
    assert np.all(net2.modules[0]["W"] - before >= -1e-12)


def test_same_seed_same_spikes_and_modules_independent():
    a = NumbaVPRSNN(2, 784, 8, seed=11).present([IMAGES, IMAGES[:2]], train=True)
    b = NumbaVPRSNN(2, 784, 8, seed=11).present([IMAGES, IMAGES[:2]], train=True)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    net = NumbaVPRSNN(2, 784, 8, seed=11)
    fixed = [net.present([IMAGES, IMAGES], train=False, seed=3)[0] for _ in range(2)]
    net.reset_state()
    again = net.present([IMAGES, IMAGES], train=False, seed=3)[0]
    np.testing.assert_array_equal(fixed[0], again)


def test_bad_parameters():
    with pytest.raises(BiosimError, match="stdp"):
        SNNParams(stdp="hebb")
    with pytest.raises(BiosimError, match="rest_time"):
        SNNParams(rest_time=5.0)
    with pytest.raises(BiosimError, match="dt"):
        SNNParams(dt=0.0)
    with pytest.raises(BiosimError, match="min_spikes"):
        SNNParams(min_spikes=-1)
    net = NumbaVPRSNN(2, 784, 4, seed=0)
    with pytest.raises(BiosimError, match="one image array per module"):
        net.present([IMAGES], train=False)
    with pytest.raises(BiosimError, match=r"pixels_per_module\[1\]"):
        net.present([IMAGES, IMAGES[:, :100]], train=False)
    with pytest.raises(BiosimError, match="255"):
        net.present([IMAGES, IMAGES * 2], train=False)


@pytest.mark.slow   # the fast suite has tests/vpr/test_snn_torch.py (same spikes, 5% stats)
@pytest.mark.torch
def test_torch_and_numba_agree_in_distribution():
    """Same seed (same initial weights and delays), different Poisson draws, 4 modules of 12
    neurons trained on 6 images in 4 orders: the mean spike count per test image, the fraction
    of active (neuron, image) pairs and the mean threshold increase agree within 10%
    (measured over seeds 21-23: within 2%, 2% and 5%)."""
    pytest.importorskip("torch")
    import torch

    from biosim.vpr.snn_torch import TorchVPRSNN

    torch.set_num_threads(1)
    orders = [IMAGES, IMAGES[::-1], IMAGES[[1, 3, 5, 0, 2, 4]], IMAGES[[4, 2, 0, 5, 3, 1]]]
    stats = {}
    for cls in (NumbaVPRSNN, TorchVPRSNN):
        net = cls(4, 784, 12, SNNParams(), seed=21)
        np.testing.assert_allclose(net.modules[3]["W"], NumbaVPRSNN(4, 784, 12, seed=21)
                                   .modules[3]["W"], rtol=1e-6)
        net.present(orders, train=True)
        net.reset_state()
        c = np.concatenate(net.present(orders, train=False))
        stats[cls.backend] = (c.sum(axis=1).mean(), (c > 0).mean(),
                              np.mean([m["theta"].mean() for m in net.modules]) - 20.0)
    for n, t in zip(stats["numba"], stats["torch"]):
        assert abs(t - n) <= 0.1 * n, stats


def _bench():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_vpr_snn.py"
    spec = importlib.util.spec_from_file_location("bench_vpr_snn", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def _route_pixels():
    from biosim.vpr.preprocess import preprocess
    from biosim.vpr.synthetic import synthetic_route

    x = preprocess(synthetic_route(25, ("summer", "rain"), seed=0).reference.images)
    return x.reshape(25, -1).astype(float)


@pytest.mark.slow
@pytest.mark.brian2
@pytest.mark.parametrize("dt", [0.5, 0.1])
def test_numba_matches_brian2_in_distribution(dt):
    """Peer simulator: the same network written in Brian2 (benchmarks/bench_vpr_snn.py, as
    VPRSNN writes it), same trained weights, delays and thresholds, 20 test images: mean
    spikes per image within 10% and per-neuron spike totals correlated (r > 0.9), at the
    default dt and in the RA-L mode (dt 0.1 ms). Measured here (n_e = 40, 10 training
    images): dt 0.5: 88.2 vs 89.5 spikes per image, r = 0.98; dt 0.1: 69.6 vs 66.9, r = 0.97."""
    pytest.importorskip("brian2")
    bench, x, p = _bench(), _route_pixels(), SNNParams(dt=dt)
    net = NumbaVPRSNN(1, 784, 40, p, seed=1)
    net.present([x[:10]], True)
    counts = []
    for seed in range(3):
        net.reset_state()
        counts.append(net.present([x[5:25]], False, seed=seed)[0])
    numba = np.mean(counts, axis=0)
    m = net.modules[0]
    brian = bench.brian2_network(m["W"], m["delays"], m["theta"], p, False, "numpy",
                                 seed=0)(x[5:25])
    assert abs(brian.sum(1).mean() - numba.sum(1).mean()) <= 0.1 * numba.sum(1).mean()
    assert np.corrcoef(numba.sum(0), brian.sum(0))[0, 1] > 0.9


@pytest.mark.slow
@pytest.mark.brian2
@pytest.mark.parametrize("term", ["pre", "post"])
def test_stdp_matches_brian2(term):
    """Each STDP term alone (the other learning rate 0; nu_pre = 1e-3), trained from the
    same weights, delays and thresholds on 6 images: the net weight change of the last
    image (column sums minus the normalised 78) per spike of that image, mean of 3 seeds,
    within 20% of Brian2's. Measured (4 seeds, cython): pre 0.0157 vs 0.0155, post 0.0109
    vs 0.0107."""
    pytest.importorskip("brian2")
    bench, x = _bench(), _route_pixels()
    p = SNNParams(nu_pre=1e-3 if term == "pre" else 0.0, nu_post=0.0 if term == "pre" else 1e-2)
    per_spike = {"numba": [], "brian2": []}
    for seed in range(3):
        net = NumbaVPRSNN(1, 784, 30, p, seed=1)
        m = {key: v.copy() for key, v in net.modules[0].items()}
        c = net.present([x[:6]], True, seed=seed)[0]
        present = bench.brian2_network(m["W"], m["delays"], m["theta"], p, True, "numpy",
                                       seed=seed)
        cb = present(x[:6])
        per_spike["numba"].append((net.modules[0]["W"].sum(axis=0).mean() - 78) / c[-1].sum())
        per_spike["brian2"].append((present.input_weights().sum(axis=0).mean() - 78)
                                   / cb[-1].sum())
    n, b = np.mean(per_spike["numba"]), np.mean(per_spike["brian2"])
    assert b > 0 and abs(n - b) <= 0.2 * b, per_spike


SHORT = dict(present_time=20.0, rest_time=10.0, max_delay=5.0)


@pytest.mark.torch
def test_torch_batches_modules_of_unequal_lengths():
    """Modules with the same number of images run as one batch, the others separately; the
    clock advances by the longest."""
    pytest.importorskip("torch")
    from biosim.vpr.snn_torch import TorchVPRSNN

    net = TorchVPRSNN(3, 784, 4, SNNParams(**SHORT), seed=0)
    out = net.present([IMAGES[:3], IMAGES[3:], IMAGES[:2]], train=True)
    assert [c.shape for c in out] == [(3, 4), (3, 4), (2, 4)]
    assert net._state["clock"] == 3 * 60
    assert all(np.all(m["theta"] >= 20.0 - 1e-3) for m in net.modules)


def test_dt_is_a_parameter():
    """Brian2's default 0.1 ms also runs; the spike cap still holds (timer quirk)."""
    p = SNNParams(dt=0.1, w_ie=0.0)
    c = NumbaVPRSNN(1, 784, 5, p, seed=2).present([np.full((2, 784), 255.0)], train=False)[0]
    assert c.max() == 7


def test_quiet_images_are_shown_again_faster():
    """Diehl & Cook's rule (min_spikes = 5): an image that drew fewer than 5 excitatory spikes
    is shown again, up to max_repeats times, each time pixel / 8 Hz faster. Up to the
    first quiet image the run equals one without the rule (same seed, same draws); the
    quiet image repeats until it draws >= 5 spikes; a black image stops at the cap."""
    x = np.concatenate([IMAGES[:2] * 0.3, IMAGES[2:5] * 0.05, np.zeros((1, 784))])
    plain = NumbaVPRSNN(1, 784, 10, SNNParams(), seed=4).present([x], True, seed=1)[0]
    assert plain[:2].sum(1).min() >= 5 and plain[2].sum() < 5
    net = NumbaVPRSNN(1, 784, 10, SNNParams(min_spikes=5, max_repeats=8), seed=4)
    c = net.present([x], True, seed=1)[0]
    rep = net.repeats_[0]
    np.testing.assert_array_equal(c[:2], plain[:2])
    assert list(rep[:2]) == [0, 0] and rep[2] >= 1
    assert np.all(c[2:5].sum(1) >= 5) and np.all(rep[2:5] < 8)
    assert rep[5] == 8 and c[5].sum() == 0
    again = NumbaVPRSNN(1, 784, 10, SNNParams(min_spikes=5, max_repeats=8), seed=4)
    np.testing.assert_array_equal(again.present([x], True, seed=1)[0], c)
    np.testing.assert_array_equal(again.repeats_[0], rep)
    # the default (VPRSNN's released code) never repeats
    assert SNNParams().min_spikes == 0
