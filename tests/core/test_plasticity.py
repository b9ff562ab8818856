"""Plasticity rules against closed forms: the STDP window (Song, Miller & Abbott 2000),
Oja's principal component (Oja 1982), Hebbian fixed points, three-factor eligibility."""
import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import biosim as bs


def run_pair(rule, offset_ms, dt=0.5, w0=0.5, t_pre=80.0):
    """One pre spike at t_pre and one post spike at t_pre + offset; returns the weight."""
    W = np.full((1, 1), w0)
    t_post = t_pre + offset_ms
    for n in range(int(250 / dt)):
        t = n * dt
        pre = np.array([float(abs(t - t_pre) < dt / 2)])
        post = np.array([float(abs(t - t_post) < dt / 2)])
        rule.apply(W, pre, post, dt=dt)
    return W[0, 0]


@pytest.mark.parametrize("offset", [-60.0, -20.0, -5.0, -0.5, 0.5, 5.0, 20.0, 60.0])
def test_stdp_window_additive(offset):
    """dw = A+ exp(-s/tau+) for s > 0 and -A- exp(s/tau-) for s < 0 (pair-based STDP)."""
    rule = bs.STDP(a_plus=0.01, a_minus=0.012, tau_plus=20.0, tau_minus=15.0)
    dw = run_pair(rule, offset) - 0.5
    expected = 0.01 * math.exp(-offset / 20.0) if offset > 0 else \
        -0.012 * math.exp(offset / 15.0)
    assert dw == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("offset", [-10.0, 10.0])
def test_stdp_window_multiplicative(offset):
    """Soft bounds: potentiation x (w_max - w), depression x (w - w_min)."""
    w0 = 0.3
    rule = bs.STDP(a_plus=0.02, a_minus=0.02, tau_plus=20.0, tau_minus=20.0,
                   multiplicative=True, w_min=0.0, w_max=1.0)
    dw = run_pair(rule, offset, w0=w0) - w0
    expected = 0.02 * (1 - w0) * math.exp(-10 / 20) if offset > 0 else \
        -0.02 * w0 * math.exp(-10 / 20)
    assert dw == pytest.approx(expected, rel=1e-9)


def test_stdp_simultaneous_spikes_cancel_nothing():
    """A coincident pair (s = 0) reads traces from before the step: no change."""
    assert run_pair(bs.STDP(), 0.0) == 0.5


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), mult=st.booleans(), a=st.floats(0.05, 2.0))
def test_stdp_bounds_hold(seed, mult, a):
    rng = np.random.default_rng(seed)
    rule = bs.STDP(a_plus=a, a_minus=a, multiplicative=mult, w_min=0.0, w_max=1.0,
                   trace="nearest" if mult else "all")
    W = rng.random((20, 15))
    for _ in range(200):
        rule.apply(W, rng.random(20) < 0.2, rng.random(15) < 0.2, dt=1.0)
        assert W.min() >= 0.0 and W.max() <= 1.0
    if mult and a < 0.5:  # soft bounds with nearest traces never reach the bounds
        assert 0.0 < W.min() and W.max() < 1.0


def test_oja_finds_principal_component():
    """Oja (1982): w converges to the unit-norm leading eigenvector of the input covariance."""
    rng = np.random.default_rng(0)
    C = np.array([[3.0, 1.0, 0.5], [1.0, 2.0, 0.3], [0.5, 0.3, 1.0]])
    X = rng.multivariate_normal(np.zeros(3), C, size=20000)
    W = rng.normal(0, 0.1, (3, 1))
    rule = bs.Oja(eta=0.002)
    for x in X:
        y = x @ W
        rule.apply(W, x, y)
    evals, evecs = np.linalg.eigh(C)
    w = W[:, 0]
    assert np.linalg.norm(w) == pytest.approx(1.0, abs=0.05)
    assert abs(w @ evecs[:, -1]) / np.linalg.norm(w) > 0.995


def test_hebbian_with_decay_relaxes_to_correlation():
    """dK/dt = eps (cos(theta_j - theta_i) - K): K -> cos of the phase difference."""
    theta = np.array([0.0, 0.5, 2.0])
    x = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    K = np.zeros((3, 3))
    rule = bs.Hebbian(eta=0.5, decay=1.0)
    for _ in range(200):
        rule.apply(K, x, x, dt=0.1)
    assert np.allclose(K, np.cos(theta[None, :] - theta[:, None]), atol=1e-4)


def test_clipped_hebbian_is_willshaw_or():
    """Willshaw storage: W = OR over patterns of x x^T."""
    rng = np.random.default_rng(1)
    P = (rng.random((30, 40)) < 0.1).astype(float)
    W = np.zeros((40, 40))
    rule = bs.ClippedHebbian()
    for p in P:
        rule.apply(W, p, p)
    assert np.array_equal(W, (P.T @ P > 0).astype(float))


def test_three_factor_matches_closed_form():
    """Pre spike at 0, post spike at s: eligibility e = exp(-s/tau_pre) decaying with tau_e;
    with M = 1 from the post spike on, w gains eta sum_k e_k dt."""
    dt, s, tau_pre, tau_e, eta = 1.0, 10.0, 20.0, 50.0, 0.1
    rule = bs.ThreeFactor(eta=eta, tau_e=tau_e, tau_pre=tau_pre, modulators=())
    W = np.zeros((1, 1))
    n_steps = 300
    for n in range(n_steps):
        rule.apply(W, [float(n == 0)], [float(n == s)], dt=dt, modulator=1.0)
    e0 = math.exp(-s / tau_pre)
    k = np.arange(n_steps - int(s))
    expected = eta * dt * e0 * np.sum(math.exp(-dt / tau_e) ** k)
    assert W[0, 0] == pytest.approx(expected, rel=1e-12)


def test_three_factor_per_unit_rates_and_offline_units_follow_their_equation():
    """eta per post unit and offline post units, against the equations in NumPy:
    e_ij <- d e_ij + x_i y_j; online j: w_ij += eta_j M_j e_ij dt; offline j: A_ij +=
    eta_j M_j e_ij dt, w_ij unchanged until consolidate(): w <- clip(w + A), A <- 0."""
    from biosim.core.projection import Weights

    rng = np.random.default_rng(4)
    n_pre, n_post, dt, tau_e = 5, 3, 0.5, 10.0
    eta, offline = np.array([0.3, 1.5, 0.7]), np.array([False, True, True])
    rule = bs.ThreeFactor(eta, tau_e, modulators=(), tau_pre=None, offline=offline,
                          w_max=0.4)
    W0 = rng.uniform(-0.2, 0.2, (n_pre, n_post))
    W, e, A = W0.copy(), np.zeros((n_pre, n_post)), np.zeros((n_pre, n_post))
    w = Weights.from_dense(W0.copy())
    d = math.exp(-dt / tau_e)
    for _ in range(40):
        x, y, M = rng.random(n_pre), rng.random(n_post), rng.normal(size=n_post)
        rule.update(w, x, y, dt, M)
        e = d * e + np.outer(x, y)
        dw = (eta * M)[None, :] * e * dt
        W[:, ~offline] = np.minimum(W + dw, 0.4)[:, ~offline]
        A[:, offline] += dw[:, offline]
    np.testing.assert_allclose(w.W, W, rtol=1e-12)
    np.testing.assert_array_equal(w.W[:, offline], W0[:, offline])  # frozen until consolidated
    np.testing.assert_allclose(rule.pending_.reshape(W.shape), A, rtol=1e-12, atol=1e-15)
    assert np.abs(A[:, offline]).max() > 0.05 and not A[:, ~offline].any()
    rule.consolidate(w)
    np.testing.assert_allclose(w.W, np.minimum(W + A, 0.4), rtol=1e-12)
    assert not rule.pending_.any()
    net = bs.Network(dt=dt)
    a, b = net.add(bs.PoissonGroup(4, 10.0)), net.add(bs.LIF(2))
    with pytest.raises(bs.BiosimError, match="eta"):
        net.connect(a, b, rule=bs.ThreeFactor(np.ones(3), modulators=()))
    with pytest.raises(bs.BiosimError, match="offline"):
        bs.ThreeFactor(1.0, offline="yes")


def test_three_factor_gate_closed_blocks_learning():
    rule = bs.ThreeFactor(eta=1.0, modulators=())
    W = np.zeros((2, 2))
    for n in range(50):
        rule.apply(W, [1.0, 1.0], [1.0, 0.0], modulator=0.0)
    assert not W.any()


@numba.njit
def anti_hebbian(w, pre, post, pre_tr, post_tr, mod, dt, p):
    return -p[0] * pre_tr * post


def test_user_rule_in_network_matches_numpy_reference():
    """A user-written numba rule runs in the network loop; the weights equal a NumPy
    re-implementation driven by the recorded spikes."""
    net = bs.Network(dt=1.0, seed=3)
    src = net.add(bs.PoissonGroup(30, 40.0, name="src"))
    tgt = net.add(bs.Izhikevich.preset("RS", 10, name="tgt"))
    net.add(bs.ConstantCurrent(tgt, 8.0))
    rule = bs.LocalRule(anti_hebbian, params=[0.01], tau_pre=10.0)
    proj = net.connect(src, tgt, bs.fixed_probability(0.5), weight=1.0, rule=rule)
    s_src, s_tgt = net.monitor(src), net.monitor(tgt)
    net.run(300.0)
    n = net.step_count
    pre = np.zeros((n, 30))
    pre[s_src.steps, s_src.i] = 1
    post = np.zeros((n, 10))
    post[s_tgt.steps, s_tgt.i] = 1
    assert post.sum() > 20 and pre.sum() > 100
    W = np.ones((30, 10))
    trace = np.zeros(30)
    for k in range(n):
        trace *= math.exp(-1.0 / 10.0)
        W -= 0.01 * np.outer(trace, post[k])
        trace += pre[k]
    mask = proj.weights.to_dense() != 0
    assert np.allclose(proj.W[mask], W[mask], rtol=1e-12)


def test_missing_modulator_is_a_clear_error():
    net = bs.Network(dt=1.0, seed=0)
    a = net.add(bs.PoissonGroup(3, 10.0, name="a"))
    b = net.add(bs.LIF(2, name="b"))
    net.connect(a, b, rule=bs.ThreeFactor(eta=0.1, modulators=("error",)))
    with pytest.raises(bs.BiosimError, match="error"):
        net.run(5.0)


def test_rule_parameter_errors():
    with pytest.raises(bs.BiosimError, match="tau_e"):
        bs.ThreeFactor(eta=0.1, tau_e=-1.0)
    with pytest.raises(bs.BiosimError, match="a_plus"):
        bs.STDP(a_plus=float("nan"))
    with pytest.raises(bs.BiosimError, match="kernel"):
        bs.LocalRule(lambda *a: 0.0)
    with pytest.raises(bs.BiosimError, match="W"):
        bs.Hebbian(0.1).apply(np.zeros((2, 3)), [1, 0, 0], [1, 1])


def test_vector_activity_needs_a_dense_projection_and_no_traces_at_connect():
    """Phases (unit vectors) pair by the dot product, which the trace and CSR drivers do not
    compute: such a projection is refused at connect (it used to fail at the first step)."""
    from biosim.oscillators import KuramotoPopulation

    net = bs.Network(dt=0.5, seed=0)
    osc = net.add(KuramotoPopulation(4, name="osc"))
    with pytest.raises(bs.BiosimError, match=r"^rule: .*without traces.*'osc->osc'"):
        net.connect(osc, osc, weight=0.0, rule=bs.Hebbian(0.1, tau_pre=5.0), name="osc->osc")
    with pytest.raises(bs.BiosimError, match=r"^rule: .*dense projection"):
        net.connect(osc, osc, weight=0.0, rule=bs.Hebbian(0.1), sparse=True)
    net.connect(osc, osc, weight=0.0, rule=bs.Hebbian(0.1, decay=1.0))
    net.run(1.0)
