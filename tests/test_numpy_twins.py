"""Every numba kernel against a short NumPy twin written from its equation.

The twins here cover the kernels that had none beside them (projection delivery, the
plasticity drivers with each rule kernel, LIF, the Willshaw dendritic sums, the FORCE
readout); the others have theirs next to the kernel (``*_numpy``) or in their family's tests
(Izhikevich step, synaptic filters, RLS, Kuramoto RK4, clique store/retrieve)."""
import math

import numpy as np
import pytest

from biosim.core import plasticity as pl
from biosim.core.projection import Weights, _csr_delayed, _csr_values, _dense_spikes

RNG = np.random.default_rng(7)


def _csr(W, mask):
    pre, post = np.nonzero(mask)
    return Weights.from_pairs(pre, post, W[pre, post], *W.shape)[0]


# ---------------------------------------------------------------- projection delivery
def test_delivery_kernels_equal_matrix_products():
    W = RNG.normal(size=(30, 20))
    mask = RNG.random(W.shape) < 0.3
    fired = RNG.random(30) < 0.4
    x = RNG.normal(size=30) * fired
    out = np.zeros(20)
    _dense_spikes(W, fired, out)
    np.testing.assert_allclose(out, W.T @ fired, rtol=1e-12, atol=1e-12)
    w = _csr(W, mask)
    out = np.zeros(20)
    _csr_values(w.data, w.indptr, w.indices, x, out)
    np.testing.assert_allclose(out, (W * mask).T @ x, rtol=1e-12, atol=1e-12)
    # per-synapse delays: synapse s reads the pre activity of step now - 1 - delay[s]
    L, now = 5, 13
    hist = RNG.normal(size=(L, 30)) * (RNG.random((L, 30)) < 0.5)
    delay = RNG.integers(0, L, w.data.size)
    out = np.zeros(20)
    _csr_delayed(w.data, w.indptr, w.indices, delay, hist, now, out)
    want = np.zeros(20)
    np.add.at(want, w.indices, w.data * hist[(now - 1 - delay) % L, w.pre_of])
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- plasticity drivers
def _dw(name, W, x_pre, x_post, tr_pre, tr_post, mod, dt, p):
    """The rules' equations on whole matrices (rows = pre)."""
    a, b = tr_pre[:, None], tr_post[None, :]
    if name == "hebbian":
        return p[0] * (a * b - p[1] * W) * dt
    if name == "oja":
        return p[0] * b * (a - b * W) * dt
    if name == "stdp":
        if p[2] > 0:
            return p[0] * (p[4] - W) * a * x_post[None, :] \
                - p[1] * (W - p[3]) * b * x_pre[:, None]
        return p[0] * a * x_post[None, :] - p[1] * b * x_pre[:, None]
    if name == "clipped":
        return np.maximum(a * b - W, 0.0)
    raise AssertionError(name)


CASES = [("hebbian", pl.hebbian_kernel, [0.1, 0.5], False),
         ("oja", pl.oja_kernel, [0.05], False),
         ("stdp", pl.stdp_kernel, [0.01, 0.012, 0.0, 0.0, 1.0], True),
         ("stdp", pl.stdp_kernel, [0.01, 0.012, 1.0, 0.0, 1.0], True),
         ("clipped", pl.clipped_kernel, [], True)]


@pytest.mark.parametrize("name,kernel,params,events", CASES)
def test_plasticity_drivers_equal_the_rules_equations(name, kernel, params, events):
    n_pre, n_post, dt, lo, hi = 25, 15, 0.5, 0.0, 1.0
    W = RNG.random((n_pre, n_post))
    mask = RNG.random(W.shape) < 0.4
    x_pre = (RNG.random(n_pre) < 0.3).astype(float)
    x_post = (RNG.random(n_post) < 0.3).astype(float)
    tr_pre, tr_post = RNG.random(n_pre) * (x_pre + 0.5), RNG.random(n_post)
    if events:  # these kernels vanish without a spike: traces only where units spiked
        tr_pre, tr_post = tr_pre * x_pre, tr_post * x_post
    mod, p = RNG.random(n_post), np.array(params, float)
    st = pl.Step(x_pre, x_post, tr_pre, tr_post, mod, dt, p, lo, hi)
    want = np.clip(W + _dw(name, W, x_pre, x_post, tr_pre, tr_post, mod, dt, p), lo, hi)
    if events:  # only synapses with an active pre or post unit are visited
        active = (x_pre[:, None] != 0) | (x_post[None, :] != 0)
        want = np.where(active, want, W)
    dense = W.copy()
    pl.dense_update(dense, kernel, st, events)
    np.testing.assert_allclose(dense, want, rtol=1e-12, atol=1e-15)
    w = _csr(W, mask)
    syn = pl.Synapses(w.indptr, w.indices, w.col_ptr, w.col_syn, w.pre_of)
    pl.csr_update(w.data, syn, kernel, st, events)
    np.testing.assert_allclose(w.to_dense(), np.where(mask, want, 0.0), rtol=1e-12,
                               atol=1e-15)


def test_eligibility_update_equals_its_equation():
    n_pre, n_post, dt, decay, eta = 12, 8, 0.5, 0.9, 0.3
    W = RNG.normal(size=(n_pre, n_post))
    e0 = RNG.normal(size=W.size)
    x_pre, x_post = RNG.random(n_pre), RNG.random(n_post)
    tr_pre, tr_post, mod = RNG.random(n_pre), RNG.random(n_post), RNG.normal(size=n_post)
    w = Weights.from_dense(W)
    flat, e = W.ravel().copy(), e0.copy()
    st = pl.Step(x_pre, x_post, tr_pre, tr_post, mod, dt, np.zeros(0), -0.5, 0.5)
    pl.eligibility_update(flat, e, w.pre_of, w.post_of, pl.coincidence_kernel, st, decay, eta)
    e_want = decay * e0.reshape(W.shape) + tr_pre[:, None] * x_post[None, :]
    w_want = np.clip(W + eta * mod[None, :] * e_want * dt, -0.5, 0.5)
    np.testing.assert_allclose(e.reshape(W.shape), e_want, rtol=1e-12)
    np.testing.assert_allclose(flat.reshape(W.shape), w_want, rtol=1e-12)


# ---------------------------------------------------------------- LIF
@pytest.mark.parametrize("conductance,adaptive", [(False, False), (True, False), (True, True)])
def test_lif_step_equals_forward_euler(conductance, adaptive):
    """Also the adaptive threshold and the timer quirk (Diehl & Cook 2015): theta decays by
    1 - dt / tau_theta and grows by theta_plus at a spike; the threshold is v_thresh + theta
    - offset; a unit fires only while its timer (+ timer_step a step, 0 at a spike) exceeds
    timer_min."""
    from biosim.neurons.lif import LIFParams, LIFState, lif_step

    n, dt = 200, 0.1
    p = LIFParams(dt, 20.0, -65.0, -60.0, -50.0, 2.0, 0.0, -80.0, 5.0, 10.0, 2.0,
                  conductance, 3.0 if adaptive else 0.0, 0.5, 1 - dt / 50.0, adaptive,
                  0.01 if adaptive else 0.0, 0.5, adaptive)
    v = RNG.uniform(-70.0, -48.0, n)
    ge, gi = RNG.random(n), RNG.random(n)
    refr = np.where(RNG.random(n) < 0.2, RNG.uniform(0.0, 2.0, n), 0.0)
    theta = RNG.uniform(0.0, 4.0, n) if adaptive else np.zeros(n)
    timer = RNG.uniform(0.0, 1.0, n)
    I, in_e, in_i = RNG.normal(10.0, 8.0, n), RNG.random(n) * 0.1, RNG.random(n) * 0.1
    want_v, want_ge, want_gi, want_r = v.copy(), ge.copy(), gi.copy(), refr.copy()
    if conductance:
        want_ge, want_gi = ge + in_e, gi + in_i
        drive = want_ge * (p.E_e - v) + want_gi * (p.E_i - v)
        want_ge, want_gi = want_ge * (1 - dt / p.tau_e), want_gi * (1 - dt / p.tau_i)
    else:
        drive = p.R * I
    want_theta = theta * p.theta_decay if adaptive else theta.copy()
    want_timer = timer + p.timer_step
    held = refr > 0.5 * dt
    free = ~held
    want_v[free] = v[free] + dt * ((p.v_rest - v[free]) + drive[free]) / p.tau_m
    spike = free & (want_v >= p.v_thresh + want_theta - p.offset)
    if adaptive:
        spike &= want_timer > p.timer_min
        want_theta[spike] += p.theta_plus
    want_v[spike], want_r[spike], want_r[held] = p.v_reset, p.t_ref, refr[held] - dt
    if adaptive:  # without the options theta and timer are never touched
        want_timer[spike] = 0.0
    fired = np.zeros(n, np.bool_)
    lif_step(LIFState(v, ge, gi, refr, theta, timer), fired, I, in_e, in_i, p)
    np.testing.assert_array_equal(fired, spike)
    assert spike.sum() > 5 and held.sum() > 5  # the case exercises every branch
    if adaptive:  # ... and the timer holds some units that would fire
        assert (free & (want_v >= p.v_thresh + want_theta - p.offset) & ~spike).sum() > 5
    for got, want in ((v, want_v), (ge, want_ge), (gi, want_gi), (refr, want_r),
                      (theta, want_theta), (timer, want_timer)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- memories, readouts
def test_willshaw_dendritic_sums_equal_matrix_product():
    from biosim.core.bits import pack
    from biosim.memory.willshaw import _dendritic_sums

    n = 130  # three 64-bit words, the last one partly used
    C = RNG.random((n, n)) < 0.1
    cues = RNG.random((4, n)) < 0.05
    got = _dendritic_sums(pack(C), pack(cues), n)
    np.testing.assert_array_equal(got, cues.astype(int) @ C.astype(int))


def test_linear_readout_equals_matrix_product():
    from biosim.reservoir.force import linear_readout

    W, r, y = RNG.normal(size=(3, 50)), RNG.random(50), np.empty(3)
    linear_readout(W, r, y)
    np.testing.assert_allclose(y, W @ r, rtol=1e-12)
    assert math.isfinite(y.sum())
