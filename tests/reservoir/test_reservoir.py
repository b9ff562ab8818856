"""Reservoir kernels, the fused readout against the generic Network path, the task."""
import math

import numpy as np
import pytest

from biosim.core import BiosimError
from biosim.neurons.izhikevich import izhikevich_step
from biosim.reservoir import Reservoir, ThreeFactorReadout, WhatWhenTask
from biosim.reservoir.reservoir import Synapses, filter_step


@pytest.mark.parametrize("model", ["izhikevich2003", "nicola_clopath"])
@pytest.mark.parametrize("published", [True, False])
def test_neuron_kernel_equals_numpy_twin(model, published):
    """The core Izhikevich kernel with either model's coefficients (the reservoir's neurons)
    against its NumPy twin: same spikes, v and u to rounding."""
    from biosim.neurons.izhikevich import COEFFICIENTS, Quadratic, izhikevich_step_numpy

    rng = np.random.default_rng(0)
    n, q = 50, Quadratic(*COEFFICIENTS[model], 30.0)
    a, b = 0.02 + 0.08 * rng.random(n), 0.2 + 0.05 * rng.random(n)
    c, d = -65 + 15 * rng.random(n), 8 - 6 * rng.random(n)
    dt, scale = (0.5, 10.0) if model == "izhikevich2003" else (0.04, 3000.0)
    v1 = -70 + 20 * rng.random(n)
    u1 = b * v1
    v2, u2, s1 = v1.copy(), u1.copy(), np.zeros(n, bool)
    fired = 0
    for _ in range(400):
        I = scale * rng.random(n)
        izhikevich_step(v1, u1, a, b, c, d, I, s1, dt, q, published)
        v2, u2, s2 = izhikevich_step_numpy(v2, u2, a, b, c, d, I, dt, q, published)
        assert np.array_equal(s1, s2)
        fired += s1.sum()
    assert fired > 10  # resets exercised
    np.testing.assert_allclose(v2, v1, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(u2, u1, rtol=1e-12, atol=1e-9)


def test_reservoir_kernels_equal_numpy_twins():
    """filter_step and the FORCE RLS step (numba) against their NumPy twins; the RLS step
    against the textbook form k = P r / (lam + r^T P r), P <- (P - k r^T P) / lam."""
    from biosim.reservoir.force import rls_step, rls_step_numpy
    from biosim.reservoir.reservoir import Synapses, filter_step_numpy

    rng = np.random.default_rng(1)
    for syn in (Synapses(0.5, 0.0, 50.0), Synapses(0.04, 2.0, 20.0)):
        x, h = rng.random(30), rng.random(30)
        drive = (rng.random(30) < 0.3).astype(float)
        x2, h2 = filter_step_numpy(x, h, drive, syn)
        filter_step(x, h, drive, syn)
        np.testing.assert_allclose(x, x2, rtol=1e-14)
        np.testing.assert_allclose(h, h2, rtol=1e-14)
    n, K, lam = 40, 2, 0.98
    A = rng.standard_normal((n, n))
    P = A @ A.T / n + np.eye(n)
    W = rng.standard_normal((K, n))
    for _ in range(20):
        r, err = rng.random(n), rng.standard_normal(K)
        W2, P2 = rls_step_numpy(W, P, r, err, lam)
        k = P @ r / (lam + r @ P @ r)
        np.testing.assert_allclose(P2, (P - np.outer(k, r @ P)) / lam, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(W2, W - np.outer(err, k), rtol=1e-9, atol=1e-12)
        rls_step(W, P, r, err, lam, np.empty(n))
        np.testing.assert_allclose(P, P2, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(W, W2, rtol=1e-10, atol=1e-13)


def test_double_exponential_filter_closed_form():
    """One spike through the double-exponential filter: r(t) = (exp(-t/td) - exp(-t/tr))
    / (td - tr) (unit area), peak at t* = tr td ln(td/tr)/(td - tr) (Nicola & Clopath)."""
    tr, td, dt = 2.0, 20.0, 0.01
    x, h = np.zeros(1), np.zeros(1)
    r = []
    for k in range(20000):
        filter_step(x, h, np.array([1.0 if k == 0 else 0.0]), Synapses(dt, tr, td))
        r.append(x[0])
    r = np.array(r)
    t = (np.arange(r.size)) * dt
    exact = (np.exp(-t / td) - np.exp(-t / tr)) / (td - tr)
    assert abs(r.sum() * dt - 1.0) < dt / tr  # first-order scheme: area 1 + O(dt/tr)
    assert abs(t[np.argmax(r)] - tr * td * math.log(td / tr) / (td - tr)) < 0.05
    np.testing.assert_allclose(r, exact, rtol=dt / tr, atol=1e-3 * exact.max())


@pytest.mark.parametrize("center", [False, True])
def test_fused_kernel_equals_network_path(center):
    """The fused numba trial gives the outputs, weights, eligibility and pending changes of
    the generic Network path (ThreeFactorReadout.network: ReservoirPopulation, projections,
    ArrayCurrent with the reservoir's noise, Teacher, core ThreeFactor rule with one rate
    per readout, an online and an offline readout, centred or not), and Network.run picks
    that kernel for the network (fused == generic == trial)."""
    T = 400
    x = np.zeros((T, 1))
    x[:100, 0] = 1
    t = np.arange(T) * 0.5
    target = np.exp(-0.5 * ((t - 120) / 20) ** 2)[:, None] * [1.0, 0.5]
    window = (np.abs(t - 120) < 40).astype(float)

    def make():
        res = Reservoir(60, g=100, tau_decay=20, bias=0, bias_std=3, n_inputs=1,
                        input_gain=10, noise_std=1.0, seed=3)
        ro = ThreeFactorReadout(2, eta=[300.0, 200.0], modes=["online", "offline"],
                                gate_floor=0.1, center=center)
        ro.init(res.n)
        ro.pending_[1] = 0.01  # carried over from an earlier trial of the block
        return res, ro

    runs = []
    for fused in (False, True):
        res, ro = make()
        net, proj, outputs = ro.network(res, x, target, window)
        assert type(net.populations[0]).fused_runner(net) is not None
        for ms in (30.5, 169.5):  # chunks; the second in one fused call
            net.run(ms, fused=fused)
        runs.append((net, proj, outputs))
    res, ro = make()
    y = ro.trial(res, x, target, window, consolidate=False)
    assert np.abs(ro.W_[0]).max() > 0.1 and np.abs(ro.pending_[1]).max() > 0.02
    assert not np.any(ro.W_[1])  # offline: pending until consolidated
    for net, proj, outputs in runs:
        np.testing.assert_allclose(outputs.values, y, atol=1e-10)
        np.testing.assert_allclose(proj.W.T, ro.W_, atol=1e-10)
        n = res.n
        np.testing.assert_allclose(proj.rule.eligibility_.reshape(n, 2).T, ro.eligibility_,
                                   atol=1e-12)
        np.testing.assert_allclose(proj.rule.pending_.reshape(n, 2).T, ro.pending_,
                                   atol=1e-10)
    (a, pa, _), (b, pb, _) = runs
    assert a.step_count == b.step_count == T
    for key in a.populations[0].state:  # the reservoir: bit for bit
        np.testing.assert_array_equal(a.populations[0].state[key], b.populations[0].state[key],
                                      err_msg=key)
        np.testing.assert_array_equal(a.populations[0].state[key], res.state[key])
    np.testing.assert_allclose(a.populations[0].activity, b.populations[0].activity,
                               atol=1e-14)
    for key in ("error", "gate"):
        np.testing.assert_allclose(a.modulators[key], b.modulators[key], atol=1e-10)
    np.testing.assert_allclose(a.populations[1].activity, b.populations[1].activity,
                               atol=1e-10)
    pa.rule.consolidate(pa.weights)
    ro.consolidate()
    np.testing.assert_allclose(pa.W.T, ro.W_, atol=1e-10)


def _reservoir_net(res, x, fused_noise=2.0):
    import biosim as bs

    net = bs.Network(dt=res.dt, seed=4)
    pop = res.add_to(net)
    net.add(bs.ArrayCurrent(pop, res.currents(x, noise=False)))
    if fused_noise:
        net.add(bs.GaussianNoise(pop, fused_noise, every=3))
    mons = [net.monitor(pop, "spikes"), net.monitor(pop, "rate"),
            net.monitor(pop, "r", indices=[0, 7], every=2)]
    return net, pop, mons


def test_reservoir_network_fused_equals_generic():
    """A Network holding a reservoir (Reservoir.add_to: population, CSR recurrent projection,
    ArrayCurrent and GaussianNoise inputs, monitors): Network.run picks the fused kernel, and
    it gives the generic loop's spikes, state, buffers and records bit for bit, in chunks of
    odd lengths; without noise the Network's fused run is Reservoir.run bit for bit."""
    from biosim.reservoir import ReservoirPopulation

    x = np.zeros((600, 1))
    x[:100, 0] = 1
    runs = []
    for fused in (False, True):
        res = Reservoir(80, g=150, bias_std=3, n_inputs=1, input_gain=15, tau_rise=2.0,
                        tau_decay=20.0, seed=7)
        net, pop, mons = _reservoir_net(res, x)
        assert ReservoirPopulation.fused_runner(net) is not None
        for ms in (20.5, 99.5, 180.0):
            net.run(ms, fused=fused)
        runs.append((pop, mons))
    (a, ma), (b, mb) = runs
    assert ma[0].i.size > 200
    np.testing.assert_array_equal(ma[0].steps, mb[0].steps)
    np.testing.assert_array_equal(ma[0].i, mb[0].i)
    np.testing.assert_array_equal(ma[1].counts, mb[1].counts)
    np.testing.assert_array_equal(ma[2].values, mb[2].values)
    np.testing.assert_array_equal(ma[2].t, mb[2].t)
    for key in a.state:
        np.testing.assert_array_equal(a.state[key], b.state[key])
    for key in a.inputs:
        np.testing.assert_array_equal(a.inputs[key], b.inputs[key])
    res = Reservoir(80, g=150, bias_std=3, n_inputs=1, input_gain=15, seed=7)
    net, pop, mons = _reservoir_net(res, x, fused_noise=0.0)
    net.run(300.0)
    R, S = res.run(x[:600], record_spikes=True)
    assert np.array_equal(np.nonzero(S), (mons[0].steps, mons[0].i))
    assert np.array_equal(R[-1], pop.activity)


def test_reservoir_population_checks():
    import biosim as bs

    res = Reservoir(10, seed=0)
    with pytest.raises(BiosimError, match="dt"):
        res.add_to(bs.Network(dt=0.25))
    net = bs.Network(dt=0.5)
    pop = res.add_to(net)
    net.callback(lambda net: None)
    assert type(pop).fused_runner(net) is None  # callbacks: the generic loop
    with pytest.raises(BiosimError, match="source"):
        net.connect(pop, pop, source="phase")  # not a kind of the reservoir
    with pytest.raises(BiosimError, match="source"):
        net.connect(pop, pop, source="spikes", rule=bs.Hebbian(0.1))  # rules read activity
    nets = [bs.Network(dt=0.5, seed=9) for _ in range(2)]  # drawn from the network's seed
    pops = [Reservoir(30, seed=n.rng()).add_to(n) for n in nets]
    for n in nets:
        n.run(50.0)
    assert np.array_equal(pops[0].state["v"], pops[1].state["v"])
    assert np.array_equal(nets[0].projections[0].weights.data, nets[1].projections[0].weights.data)
    from biosim.neurons import Izhikevich, to_brian2

    assert isinstance(pop, Izhikevich) and pop.coefficients == "izhikevich2003"
    pytest.importorskip("brian2")
    with pytest.raises(BiosimError, match="populations"):
        to_brian2(net)  # its synaptic filter has no Brian2 form here: refused, not dropped


def test_force_as_a_core_rule_equals_force_run():
    """FORCE on the generic Network path (the reservoir by add_to, a LinearReadout, the
    core rule RLS on a dense projection, the target as a modulator set by a callback) learns
    the weights and P of FORCE.run bit for bit (no feedback)."""
    import biosim as bs
    from biosim.reservoir import FORCE, LinearReadout

    T = 300
    x = np.zeros((T, 1))
    x[:60, 0] = 1
    target = np.sin(np.arange(T) / 15.0)[:, None]
    kw = dict(g=100, bias_std=3, n_inputs=1, input_gain=15, seed=5)
    force = FORCE(1, alpha=0.5, every=4)
    res = Reservoir(50, **kw)
    force.run(res, x, target)
    res = Reservoir(50, **kw)
    net = bs.Network(dt=res.dt, seed=0)
    pop = res.add_to(net)
    net.add(bs.ArrayCurrent(pop, res.currents(x)))
    out = net.add(LinearReadout(1, name="out"))
    proj = net.connect(pop, out, bs.all_to_all(), weight=np.zeros((50, 1)), rule=force.rule())
    net.callback(lambda net: net.modulators.update(target=target[net.step_count]))
    net.run(T * res.dt)
    assert np.abs(force.W_).max() > 0.01
    np.testing.assert_array_equal(proj.W.T, force.W_)
    np.testing.assert_array_equal(proj.rule.P_, force.P_)


@pytest.mark.parametrize("K", [1, 2])
def test_force_network_with_feedback_fused_equals_generic(K):
    """FORCE with feedback on core objects (FORCE.network: the reservoir, a LinearReadout
    that reads it in the same step, the core rule RLS sharing P, the feedback as a
    projection readout -> reservoir, a Targets callback): the generic loop has FORCE's
    timing (fb^T y(t - 1) drives step t) and gives FORCE.run's outputs, weights and P, bit
    for bit with one output (to rounding with two: it sums the feedback with BLAS);
    Network.run picks the fused kernel run_force for it, in chunks whose ends fall between
    RLS steps."""
    from biosim.reservoir import FORCE

    T = 400
    x = np.zeros((T, 1))
    x[:60, 0] = 1
    target = np.sin(np.arange(T)[:, None] / [15.0, 9.0][:K])

    def make(feedback=100.0):
        return (Reservoir(50, g=100, bias_std=3, n_inputs=1, input_gain=15, seed=5),
                FORCE(K, alpha=0.5, every=7, feedback=feedback, seed=2))

    res, force = make()
    y = force.run(res, x, target)
    res0, force0 = make(feedback=0.0)
    assert np.abs(y - force0.run(res0, x, target)).max() > 0.2 * np.abs(y).max()  # it acts
    runs = []
    for fused in (False, True):
        r, f = make()
        net, proj, outputs = f.network(r, x, target)
        assert type(net.populations[0]).fused_runner(net) is not None
        for ms in (33.5, 166.5):
            net.run(ms, fused=fused)
        runs.append((net, proj, outputs))
    same = np.testing.assert_array_equal if K == 1 else \
        (lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9))
    for net, proj, outputs in runs:
        same(outputs.values, y)
        same(proj.W.T, force.W_)
        same(proj.rule.P_, force.P_)
        assert proj.rule.updates_ == T
    (a, pa, _), (b, pb, _) = runs
    for key in a.populations[0].state:
        same(a.populations[0].state[key], b.populations[0].state[key])
    for pop_a, pop_b in zip(a.populations, b.populations):
        same(pop_a.activity, pop_b.activity)
        for key in pop_a.inputs:
            np.testing.assert_allclose(pop_a.inputs[key], pop_b.inputs[key], rtol=1e-9,
                                       atol=1e-9)
    np.testing.assert_array_equal(a.modulators["target"], b.modulators["target"])
    if K > 1:  # with trained weights a rounding difference moves a spike: one output only
        return
    W = force.W_.copy()  # testing (no rule): the generic loop and the kernel, no RLS step
    res.reset_state()
    net, proj, outputs = force.network(res, x, train=False)
    net.run(T * res.dt, fused=False)
    res.reset_state()
    same(force.run(res, x, train=False), outputs.values)
    np.testing.assert_array_equal(force.W_, W)


def test_offline_readout_consolidates_at_trial_end():
    """An offline readout does not change within a trial; its summed change equals the
    online rule's change computed with frozen weights (same eligibility, same errors)."""
    res = Reservoir(40, g=100, bias_std=3, n_inputs=1, seed=1)
    x = np.zeros((200, 1))
    x[:50] = 1
    target = np.ones((200, 2))
    ro = ThreeFactorReadout(2, eta=[0.0, 80.0], modes=["online", "offline"], gate_floor=1.0)
    y = ro.trial(res, x, target, np.ones(200))
    assert np.all(y[:, 1] == 0.0)  # weights frozen during the trial (started at zero)
    assert np.abs(ro.W_[1]).max() > 0
    res.reset_state()
    R = res.run(x)
    e, acc = np.zeros(res.n), np.zeros(res.n)
    decay = math.exp(-res.dt / ro.tau_e)
    for k in range(200):
        e = decay * e + (1 - decay) * R[k]
        acc += (80.0 / res.n) * 1.0 * (1.0 - 0.0) * e * res.dt  # (eta / n) G E e dt
    np.testing.assert_allclose(ro.W_[1], acc, rtol=1e-9)


def test_trial_network_reused_equals_built_afresh():
    """ThreeFactorReadout.trial keeps its Network for the next trial: the same outputs and
    weights bit for bit as a network built for every trial, also after learn=False, a block
    without consolidation and a change of the reservoir in place (which rebuilds it)."""
    x = np.zeros((120, 1))
    x[:30] = 1
    target = np.ones((120, 2))
    outs = []
    for fresh in (False, True):
        res = Reservoir(30, g=100, bias_std=3, n_inputs=1, noise_std=0.5, seed=2)
        ro = ThreeFactorReadout(2, eta=[100.0, 50.0], modes=["online", "offline"],
                                gate_floor=0.5, center=True)
        ys = []
        for k, kw in enumerate([{}, {"consolidate": False}, {"learn": False}, {}, {}]):
            if fresh:
                ro._cache = None
            if k == 3:
                res.bias_ += 2.0  # in place: the kept network must see it
            res.reset_state()
            ys.append(ro.trial(res, x, target, np.ones(120), **kw))
        outs.append((np.array(ys), ro.W_.copy()))
    assert np.abs(outs[0][0][4] - outs[0][0][2]).max() > 1e-3
    np.testing.assert_array_equal(outs[0][0], outs[1][0])
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


def test_block_consolidation():
    """With consolidate="block" the what readout is frozen within a block (its output
    stays zero from zero weights) and takes the block's summed change at the block end;
    per-trial consolidation changes it from the second trial on."""
    from biosim.reservoir import run_three_factor

    blocks = [{"latency": 150, "probabilities": [1.0], "n_trials": 4}]
    outs = {}
    for mode in ("trial", "block"):
        task = WhatWhenTask(blocks, trial_ms=300, seed=0)
        ro = ThreeFactorReadout(2, eta=[200.0, 6.0], modes=["online", "offline"])
        outs[mode] = run_three_factor(Reservoir(50, n_inputs=2, seed=1), ro, task,
                                      consolidate=mode)
        assert np.abs(ro.W_[1]).max() > 0 and not ro.pending_.any()
    assert np.all(outs["block"][:, :, 1] == 0.0)
    assert np.abs(outs["trial"][1:, :, 1]).max() > 0
    np.testing.assert_array_equal(outs["block"][0], outs["trial"][0])


def test_reservoir_reproducible_and_rates():
    """Same seed, same spikes; the 2003 reservoir fires at cortical rates (1-50 Hz)."""
    x = np.zeros((800, 1))
    x[:100] = 1
    runs = [Reservoir(200, g=200, tau_decay=50, bias=4, bias_std=3, input_gain=20,
                      seed=5).run(x, record_spikes=True)[1] for _ in range(2)]
    assert np.array_equal(runs[0], runs[1])
    rate = runs[0].mean() / 0.5e-3
    assert 1.0 < rate < 50.0


def test_task_statistics_and_shapes():
    """Identities are drawn with the block's probabilities (binomial 5-sigma bounds)."""
    p = np.array([0.5, 0.3])
    task = WhatWhenTask([{"latency": 200, "probabilities": p, "n_trials": 2000}], seed=0)
    ids = np.array([tr.identity for tr in task.trials()])
    for i, pi in enumerate([*p, 1 - p.sum()]):
        frac = np.mean(ids == (i if i < 2 else -1))
        assert abs(frac - pi) < 5 * math.sqrt(pi * (1 - pi) / 2000)
    tr = next(t for t in task.trials() if t.identity == 1)
    x, y = task.inputs(tr), task.targets(tr)
    assert x.shape == y.shape == (task.steps, 3)
    assert task.times[np.argmax(y[:, 0])] == pytest.approx(tr.t_stim)
    assert x[:, 2].sum() * task.dt == pytest.approx(task.stimulus_ms)


@pytest.mark.parametrize("block, field", [
    ({"latency": 100, "probabilities": [1.2], "n_trials": 5}, "blocks[0].probabilities"),
    ({"latency": 100, "probabilities": [-0.1], "n_trials": 5}, "blocks[0].probabilities"),
    ({"latency": 100, "probabilities": [0.7, 0.6], "n_trials": 5}, "blocks[0].probabilities"),
    ({"latency": 900, "probabilities": [0.5], "n_trials": 5}, "blocks[0].latency"),
    ({"latency": 100, "probabilities": [0.5]}, "blocks[0].n_trials"),
])
def test_task_bad_input(block, field):
    with pytest.raises(BiosimError, match=field.replace("[", r"\[").replace("]", r"\]")):
        WhatWhenTask([block], trial_ms=500)


def test_diverging_learning_rate_raises():
    res = Reservoir(100, g=200, tau_decay=50, bias=4, bias_std=3, input_gain=20, seed=1)
    x = np.zeros((800, 1))
    x[:100] = 1
    ro = ThreeFactorReadout(1, eta=1e9, gate_floor=1.0)
    with pytest.raises(BiosimError, match="eta"):
        for _ in range(5):
            res.reset_state()
            ro.trial(res, x, np.ones((800, 1)), np.ones(800))


def test_bad_reservoir_input():
    with pytest.raises(BiosimError, match="dt"):
        Reservoir(10, model="nicola_clopath", dt=0.5)
    with pytest.raises(BiosimError, match="inputs"):
        Reservoir(10, n_inputs=2).run(np.zeros((5, 3)))


def test_centred_readout():
    """center=True: y(n) = W (r(n-1) - mean_j r_j(n-1)) with r from Reservoir.run (numpy
    reference), and every update is zero-sum over neurons, so sum_j w_j is conserved."""
    res = Reservoir(40, g=100, bias_std=3, n_inputs=1, seed=1)
    x = np.zeros((300, 1))
    x[:50] = 1
    R = res.run(x)
    ro = ThreeFactorReadout(1, eta=100.0, gate_floor=1.0, center=True)
    ro.init(res.n)
    ro.W_[:] = np.random.default_rng(0).standard_normal((1, res.n))
    w0 = ro.W_.copy()
    res.reset_state()
    y = ro.trial(res, x, np.ones((300, 1)), np.ones(300), learn=False)
    Rc = R - R.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(y[1:, 0], Rc[:-1] @ w0[0], rtol=1e-10, atol=1e-12)
    assert y[0, 0] == 0.0
    res.reset_state()
    ro.trial(res, x, np.ones((300, 1)), np.ones(300))
    assert np.abs(ro.W_ - w0).max() > 1e-3
    assert ro.W_.sum() == pytest.approx(w0.sum(), abs=1e-9)
    ro.W_[:] = w0  # the generic Network loop: the centred population delivers W^T (r - rbar)
    res.reset_state()
    for learn in (False, True):
        res.reset_state()
        net, proj, out = ro.network(res, x, np.ones((300, 1)), np.ones(300), learn=learn)
        net.run(300 * res.dt, fused=False)
        if not learn:
            np.testing.assert_allclose(out.values[1:, 0], Rc[:-1] @ w0[0], rtol=1e-10,
                                       atol=1e-12)
    assert np.abs(proj.W.T - w0).max() > 1e-3  # learned, and the rule read r - rbar:
    assert proj.W.sum() == pytest.approx(w0.sum(), abs=1e-9)


def test_centring_and_what_target_options():
    task = WhatWhenTask([{"latency": 100, "probabilities": [1.0], "n_trials": 1}],
                        trial_ms=300, what_until="stimulus")
    assert task.what_template(120.0).nonzero()[0][-1] * task.dt == 140.0
    held = WhatWhenTask([{"latency": 100, "probabilities": [1.0], "n_trials": 1}],
                        trial_ms=300)
    assert held.what_until == "trial_end" and held.what_template(120.0)[-1] == 1.0
    with pytest.raises(BiosimError, match="what_until"):
        WhatWhenTask([{"latency": 100, "probabilities": [1.0], "n_trials": 1}],
                     what_until="never")
    with pytest.raises(BiosimError, match="center"):
        ThreeFactorReadout(1, center="yes")


def test_readout_and_force_save_load_continue(tmp_path):
    """Readouts are Estimators: a trained readout (three-factor or FORCE) saved and loaded
    continues training exactly as the original; FORCE draws its feedback at the first run."""
    from biosim.reservoir import FORCE

    x = np.zeros((150, 1))
    x[:40] = 1
    target = np.sin(np.arange(150) / 10.0)[:, None]
    for make, call in ((lambda: ThreeFactorReadout(1, eta=100.0, gate_floor=0.5),
                        lambda ro, res: ro.trial(res, x, target, np.ones(150))),
                       (lambda: FORCE(1, alpha=0.5, every=5, feedback=50.0, seed=3),
                        lambda ro, res: ro.run(res, x, target))):
        ro, res = make(), Reservoir(40, g=100, seed=2)
        assert not ro.fitted_attributes()
        call(ro, res)
        ro.save(tmp_path / "m")
        back = type(ro).load(tmp_path / "m")
        res.reset_state()
        y1 = call(ro, res)
        res.reset_state()
        y2 = call(back, res)
        assert np.abs(y1).max() > 0
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(ro.W_, back.W_)
