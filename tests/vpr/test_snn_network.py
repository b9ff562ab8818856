"""VPRSNN built from core objects (``biosim.vpr.snn_network``: PoissonGroup, conductance LIF
with adaptive threshold and timer quirk, TripletSTDP, normalize_incoming), stepped by the
generic ``Network.run`` loop, against the fused event-driven kernel
``snn_numba.run_images`` (fused == generic): from the same input spike trains, the same
excitatory spike counts of every presentation and the same weights and thresholds, bit for
bit, through training (both STDP sign conventions) and frozen test presentations."""
import copy

import numpy as np
import pytest
from numba import njit

import biosim as bs
from biosim.core import fastrandom
from biosim.vpr import snn_numba as sn
from biosim.vpr.snn_network import kernel_state, set_kernel_state, present, vprsnn_network

from .kernel_setup import fresh_kernel

N_IN, N_E, SEED = 16, 6, 11
# 16 inputs instead of 784: weight_sum scaled to keep VPRSNN's drive per neuron (x3)
PARAMS = dict(weight_sum=78.0 * 16 / 784 * 3, rate_scale=1.0)


@njit
def _kernel_trains(pixels, k, rng):
    """The input spikes (global step, input) ``run_images`` draws for ``pixels`` from the
    stream ``rng`` (advanced)."""
    rs = fastrandom.load(rng)
    n_img, n_in = pixels.shape
    n = n_in * k.n_present
    ids, ts, ti = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    bptr = np.empty(k.n_present + 1, np.int64)
    steps, idx = [0], [0]
    steps.pop()
    idx.pop()
    for img in range(n_img):
        rs = fastrandom.poisson_steps(rs, pixels[img] * k.rate_scale, k.dt, k.n_present, ids,
                                      bptr, ts, ti)
        t0 = img * (k.n_present + k.n_rest)
        for s in range(k.n_present):
            for m in range(bptr[s], bptr[s + 1]):
                steps.append(t0 + s)
                idx.append(ids[m])
    fastrandom.store(rng, rs)
    return np.array(steps), np.array(idx)


def _kernel(p, mod, batches):
    """Run the fused kernel over the batches [(pixels, train), ...]; counts, W, theta,
    state and the input trains it drew."""
    k, tabs, m, state = fresh_kernel(p, mod, N_IN, N_E)
    W, theta = m.W, m.theta
    counts, steps, idx, t0 = [], [], [], 0
    rng = fastrandom.seed_state(np.random.default_rng(SEED))
    for pixels, train in batches:
        c = np.zeros((len(pixels), N_E), np.int64)
        sn.run_images(pixels, m, state, k, tabs, train, rng.copy(), c,
                      np.zeros(len(c), np.int64))
        counts.append(c)
        s, i = _kernel_trains(pixels, k, rng)
        steps.append(s + t0)
        idx.append(i)
        t0 += len(pixels) * (k.n_present + k.n_rest)
    return counts, W, theta, state, np.concatenate(steps), np.concatenate(idx)


@pytest.mark.parametrize("stdp", ["vprsnn", "diehl_cook"])
def test_generic_network_equals_the_fused_kernel(stdp):
    p = sn.SNNParams(stdp=stdp, **PARAMS)
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, 256, (3, N_IN)).astype(float), True),
               (rng.integers(0, 256, (3, N_IN)).astype(float), True),
               (rng.integers(0, 256, (2, N_IN)).astype(float), False)]
    mod = sn.init_module(N_IN, N_E, p, seed=3)
    counts, W, theta, state, steps, idx = _kernel(p, mod, batches)
    source = bs.SpikeGenerator(N_IN, idx, (steps + 0.5) * p.dt, name="input")
    net = vprsnn_network(p, N_IN, N_E, module=mod, source=source)
    got = [present(net, pixels, train, p) for pixels, train in batches]
    for want, have in zip(counts, got):
        np.testing.assert_array_equal(have, want)
    W_net = net["input->exc"].weights.to_dense()
    np.testing.assert_array_equal(W_net, W)
    np.testing.assert_array_equal(net["exc"].state["theta"], theta)
    for pop, v in (("exc", state.v_e), ("inh", state.v_i)):
        np.testing.assert_allclose(net[pop].state["v"], v, rtol=0, atol=1e-9)
    # the case is not trivial: neurons fired in every batch, learning moved the weights
    assert all(c.sum() >= 10 for c in counts)
    assert np.abs(W - mod["W"]).max() > 0.1 and np.abs(theta - p.theta_init).max() > 0.1


def test_generic_network_with_poisson_inputs_matches_the_kernel_in_distribution():
    """Own Poisson draws (PoissonGroup from the network's stream vs the kernel's geometric
    gaps), no lateral inhibition: each neuron's mean spike count over 60 frozen 100 ms
    presentations agrees within 4 standard errors (measured: |z| <= 0.7), as does the
    total."""
    p = sn.SNNParams(present_time=100.0, rest_time=20.0, w_ie=0.0, **PARAMS)
    mod = sn.init_module(N_IN, N_E, p, seed=3)
    pixels = np.tile(np.random.default_rng(1).integers(0, 256, N_IN).astype(float), (60, 1))
    want = _kernel(p, mod, [(pixels, False)])[0][0]
    got = present(vprsnn_network(p, N_IN, N_E, seed=5, module=mod), pixels, False, p,
                  fused=False)
    for a, b in ((want, got), (want.sum(1, keepdims=True), got.sum(1, keepdims=True))):
        se = np.sqrt(a.var(0) / len(a) + b.var(0) / len(b))
        assert np.all(a.mean(0) > 0.2)
        assert np.all(np.abs(b.mean(0) - a.mean(0)) < 4 * se)


def _state(net):
    """Everything the two paths must agree on (the rule's times relative to the clock)."""
    rule = net["input->exc"].rule
    off = int(rule.state_["clock"][0]) - net.step_count
    out = {f"{pop}.{v}": net[pop].state[v].copy() for pop in ("exc", "inh")
           for v in ("v", "ge", "gi", "theta", "timer")}
    out["refractory_steps"] = np.rint(np.concatenate(
        [net[pop].state["refractory"] for pop in ("exc", "inh")]) / net.dt)
    out["w"] = net["input->exc"].weights.data.copy()
    out["last_post"] = rule.state_["last_post"] - off
    arrived = rule.state_["last_arrival"] > -(1 << 59)
    out["last_arrival"] = np.where(arrived, rule.state_["last_arrival"] - off, -1)
    out["clock"] = net.step_count
    return out


def test_fused_presentations_equal_the_generic_loop():
    """``present(fused=True)`` hands the network's arrays to ``run_images`` and back. With
    inputs that fire every step or never (rate * dt >= 1: no random draw on either path),
    training then testing then training again, fused and generic give the same counts and
    the same state (weights, thresholds, voltages, conductances, timers, refractory steps,
    the rule's spike times), and a generic run continues a fused one exactly."""
    # delays < 16 steps: an input firing every step stays within the kernel's emission
    # history (EMISSION_HISTORY spike times per input; the generic rule keeps them all)
    p = sn.SNNParams(present_time=60.0, rest_time=20.0, rate_scale=8.0, max_delay=7.0,
                     weight_sum=78.0 * 16 / 784)
    rng = np.random.default_rng(2)
    batches = [(255.0 * (rng.random((2, N_IN)) < 0.3), train) for train in (True, False, True)]
    mod = sn.init_module(N_IN, N_E, p, seed=3)
    nets = {f: vprsnn_network(p, N_IN, N_E, seed=1, module={k: v.copy() for k, v in
                                                              mod.items()}) for f in (0, 1)}
    for pixels, train in batches:
        want = present(nets[0], pixels, train, p, fused=False)
        got = present(nets[1], pixels, train, p, fused=True)
        np.testing.assert_array_equal(got, want)
        a, b = _state(nets[0]), _state(nets[1])
        for key in a:
            np.testing.assert_allclose(b[key], a[key], rtol=0, atol=1e-12, err_msg=key)
    assert np.abs(a["w"] - mod["W"].ravel()).max() > 0.01 and want.sum() > 0
    pixels = batches[0][0]   # the fused network goes on in the generic loop
    np.testing.assert_array_equal(present(nets[1], pixels, True, p, fused=False),
                                  present(nets[0], pixels, True, p, fused=False))
    np.testing.assert_array_equal(nets[1]["input->exc"].weights.data,
                                  nets[0]["input->exc"].weights.data)


def test_kernel_state_round_trip():
    """A network's state saved in the kernel's form and loaded into a new network (same
    weights) continues as the original does."""
    p = sn.SNNParams(present_time=60.0, rest_time=20.0, **PARAMS)
    pixels = np.random.default_rng(4).integers(0, 256, (2, N_IN)).astype(float)
    mod = sn.init_module(N_IN, N_E, p, seed=3)
    net = vprsnn_network(p, N_IN, N_E, seed=1, module=mod)
    present(net, pixels, True, p, fused=True)
    saved = kernel_state(net, p)
    other = vprsnn_network(p, N_IN, N_E, seed=1, module={
        "W": net["input->exc"].weights.data.reshape(N_IN, N_E).copy(),
        "delays": mod["delays"], "theta": net["exc"].state["theta"].copy()})
    set_kernel_state(other, saved, p)
    other["input"].initialize(copy.deepcopy(net["input"]._rng))
    np.testing.assert_array_equal(present(other, pixels, True, p, fused=True),
                                  present(net, pixels, True, p, fused=True))
    np.testing.assert_array_equal(other["input->exc"].weights.data,
                                  net["input->exc"].weights.data)


def test_bad_network():
    with pytest.raises(bs.BiosimError, match="timer_rate"):
        vprsnn_network(sn.SNNParams(timer_rate=0.0), N_IN, N_E)
    with pytest.raises(bs.BiosimError, match="module.W"):
        vprsnn_network(None, N_IN, N_E, module={"W": np.zeros((3, 3)), "delays": 0, "theta": 0})
    net = vprsnn_network(sn.SNNParams(), N_IN, N_E, source=bs.SpikeGenerator(N_IN, [0], [1.0],
                                                                            name="input"))
    with pytest.raises(bs.BiosimError, match="fused"):
        present(net, np.zeros(N_IN), True, fused=True)


def test_fused_equals_generic_with_random_inputs():
    """Both paths draw each call's trains from one fastrandom stream seeded from the input's
    generator (PoissonGroup.draw_block in the generic loop): random inputs, training and
    testing, the same counts, weights and voltages bit for bit."""
    p = sn.SNNParams(present_time=100.0, rest_time=30.0, **PARAMS)
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, 256, (3, N_IN)).astype(float), t) for t in (True, False, True)]
    mod = sn.init_module(N_IN, N_E, p, seed=3)
    nets = [vprsnn_network(p, N_IN, N_E, seed=5, module={k: v.copy() for k, v in mod.items()})
            for _ in range(2)]
    total = 0
    for pixels, train in batches:
        want = present(nets[0], pixels, train, p, fused=False)
        np.testing.assert_array_equal(present(nets[1], pixels, train, p, fused=True), want)
        total += want.sum()
    a, b = _state(nets[0]), _state(nets[1])
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=0, atol=1e-12, err_msg=key)
    assert total >= 10


def _spikes(net):
    mon = net["exc.spikes"]
    return mon.steps, mon.i


def test_network_run_picks_the_kernel_and_equals_the_generic_loop(monkeypatch):
    """``Network.run`` on a VPRSNN network runs ``snn_numba.run_steps`` (fused) unless told
    not to. Runs of any length (chunks ending mid-presentation with spikes in flight; runs
    of > 1000 steps, which Network.run cuts into chunks), input trains drawn ahead
    (draw_block) and at plain rates (the group's generator), learning switched off with
    spikes in flight and on again (where the kernel cannot start, that chunk runs in the
    generic loop): the same spikes, weights, thresholds and state as the generic loop."""
    p = sn.SNNParams(present_time=100.0, rest_time=30.0, **PARAMS)
    mod = sn.init_module(N_IN, N_E, p, seed=3)
    nets = [vprsnn_network(p, N_IN, N_E, seed=5, module={k: v.copy() for k, v in mod.items()})
            for _ in range(2)]
    assert nets[0]._fused_runner() is not None
    calls = []
    kernel = sn.run_steps
    monkeypatch.setattr(sn, "run_steps", lambda *a: calls.append(1) or kernel(*a))
    pixels = np.random.default_rng(6).integers(0, 256, (3, N_IN)).astype(float)
    stream = fastrandom.seed_state(np.random.default_rng(7))

    def learn(net, on):
        net.modulators["learning"] = 1.0 if on else 0.0
        net["exc"].adapt_threshold = on

    plan = [("norm",), ("block", pixels[0], True), ("run", 37.5), ("run", 112.5),
            ("rates", pixels[1] * 2.0), ("run", 600.0),             # > 1000 steps in chunks
            ("learn", False), ("run", 20.5), ("rates", 0.0), ("run", 30.0),
            ("block", pixels[2], False), ("run", 50.0), ("learn", True), ("norm",),
            ("run", 60.0),
            ("rates", pixels[0]), ("run", 13.0), ("generic", 40.0), ("run", 7.5)]
    for fused, net in zip((False, True), nets):
        s = stream.copy()
        for step in plan:
            if step[0] == "norm":
                bs.normalize_incoming(net["input->exc"].weights, p.weight_sum)
            elif step[0] == "block":
                net["input"].draw_block(step[1] * p.rate_scale, p.present_steps, p.dt, s)
            elif step[0] == "rates":
                net["input"].set_rates(step[1])
            elif step[0] == "learn":
                learn(net, step[1])
            else:   # "generic": the fused network goes on in the generic loop a while
                net.run(step[1], fused=fused and step[0] == "run")
    (t0, i0), (t1, i1) = _spikes(nets[0]), _spikes(nets[1])
    np.testing.assert_array_equal(t1, t0)
    np.testing.assert_array_equal(i1, i0)
    a, b = _state(nets[0]), _state(nets[1])
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=0, atol=1e-12, err_msg=key)
    for net in nets[1:]:
        np.testing.assert_array_equal(net["input->exc"].history, nets[0]["input->exc"].history)
        for pop in ("input", "exc", "inh"):
            np.testing.assert_array_equal(net[pop].activity, nets[0][pop].activity)
    # not trivial: many spikes, learning moved the weights, the kernel ran most chunks
    assert len(t0) >= 30 and np.abs(a["w"] - mod["W"].ravel()).max() > 0.05
    assert len(calls) >= 5


def test_network_run_falls_back_where_the_kernel_does_not_apply():
    p = sn.SNNParams(present_time=100.0, rest_time=30.0, **PARAMS)
    net = vprsnn_network(p, N_IN, N_E, seed=5)
    net.modulators["learning"] = 0.5     # the kernel learns fully or not at all
    assert net._fused_runner() is None
    net.modulators["learning"] = 1.0
    net.monitor(net["inh"], "v")         # a monitor the kernel does not feed
    assert net._fused_runner() is None
    with pytest.raises(bs.BiosimError, match="fused"):
        net.run(10.0, fused=True)


@pytest.mark.parametrize("edit", ["exc->inh", "inh->exc", "nu_post", "v_thresh", "tau_e"])
def test_network_run_on_an_edited_network_equals_the_generic_loop(edit):
    """The kernel takes its constants from the params the network was built with: after an
    edit of the network itself, Network.run must not pick it (same spikes as the generic
    loop; it fails if the edit is ignored)."""
    p = sn.SNNParams(present_time=100.0, rest_time=30.0, **PARAMS)
    mod = sn.init_module(N_IN, N_E, p, seed=3)
    nets = [vprsnn_network(p, N_IN, N_E, seed=5, module={k: v.copy() for k, v in mod.items()})
            for _ in range(2)]
    pixels = np.random.default_rng(6).integers(0, 256, N_IN).astype(float) * 2.0
    for net in nets:
        if edit in ("exc->inh", "inh->exc"):
            net[edit].weights.W[:] = 0.0
        elif edit == "nu_post":
            net["input->exc"].rule.nu_post = 0.5
        else:
            setattr(net["exc"], edit, getattr(net["exc"], edit) * 0.5)
        net["input"].set_rates(pixels)
    assert nets[1]._fused_runner() is None
    for net, fused in zip(nets, (False, None)):
        net.run(200.0, fused=fused)
    (t0, i0), (t1, i1) = _spikes(nets[0]), _spikes(nets[1])
    np.testing.assert_array_equal(t1, t0)
    np.testing.assert_array_equal(i1, i0)


def test_network_run_in_lockstep_with_the_generic_loop():
    """Runs of 1-7 steps, the whole state compared after each (spikes pending and in
    flight at every kind of boundary, the hand-over both ways): equal throughout."""
    p = sn.SNNParams(present_time=100.0, rest_time=30.0, **PARAMS)
    mod = sn.init_module(N_IN, N_E, p, seed=4)
    nets = [vprsnn_network(p, N_IN, N_E, seed=8, module={k: v.copy() for k, v in mod.items()})
            for _ in range(2)]
    pixels = np.random.default_rng(9).integers(0, 256, (2, N_IN)).astype(float) * 2.0
    stream = fastrandom.seed_state(np.random.default_rng(10))
    sizes = [1, 2, 3, 5, 7, 4]
    pending = 0
    for net in nets:
        bs.normalize_incoming(net["input->exc"].weights, p.weight_sum)
        net["input"].draw_block(pixels[0], 800, p.dt, stream.copy())
        net.run(10 * p.dt)   # both fused: a first run of >= 10 steps (no warning)
    for n, (learn, rates) in enumerate([(True, None)] * 200 + [(False, pixels[1])] * 80
                                       + [(True, 0.0)] * 60):
        for net, fused in zip(nets, (False, True)):
            net.modulators["learning"] = float(learn)
            net["exc"].adapt_threshold = learn
            if rates is not None and net["input"]._block is None:
                net["input"].set_rates(rates)
            net.run(sizes[n % len(sizes)] * p.dt, fused=fused)
        a, b = _state(nets[0]), _state(nets[1])
        for key in a:
            np.testing.assert_allclose(b[key], a[key], rtol=0, atol=1e-12, err_msg=key)
        for pop in ("input", "exc", "inh"):
            np.testing.assert_array_equal(nets[1][pop].activity, nets[0][pop].activity)
        pending += nets[0]["exc"].activity.any() + nets[0]["inh"].activity.any()
        np.testing.assert_array_equal(nets[1]["input->exc"].history,
                                      nets[0]["input->exc"].history)
        for key in ("ring", "prev_post", "clock"):
            np.testing.assert_array_equal(nets[1]["input->exc"].rule.state_[key],
                                          nets[0]["input->exc"].rule.state_[key])
    for key in ("steps", "i"):
        np.testing.assert_array_equal(getattr(nets[1]["exc.spikes"], key),
                                      getattr(nets[0]["exc.spikes"], key))
    assert pending >= 8 and len(nets[0]["exc.spikes"].i) >= 40
