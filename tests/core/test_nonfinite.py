"""Non-finite state stops a run (issue 16, item 1), in the fused and the generic loop, within
one chunk of ``CHECK_EVERY`` steps; resets above the peak and LIF thresholds under the reset
are refused; 2-D weights must be (n_pre, n_post) (item 6)."""
import numpy as np
import pytest

import biosim as bs
from biosim.core.network import CHECK_EVERY
from biosim.core.validation import BiosimError


def blow_up_at(step, fused, n_steps=5000, dt=0.5):
    """An Izhikevich population whose unit 3 gets a current of 1e300 at ``step``: v and u
    overflow to inf/nan there and the unit goes silent (the silent failure of the issue)."""
    net = bs.Network(dt=dt, seed=1)
    pop = net.add(bs.Izhikevich.preset("RS", 10, name="exc"))
    table = np.zeros((n_steps, 10))
    table[step, 3] = 1e300
    net.add(bs.ArrayCurrent(pop, table))
    net.add(bs.ArrayCurrent(pop, np.full((n_steps, 10), 5.0)))
    net.monitor(pop, "spikes")
    with pytest.raises(BiosimError) as err:
        net.run(n_steps * dt, fused=fused)
    return net, str(err.value)


@pytest.mark.parametrize("fused", [True, False])
def test_nonfinite_detected_within_one_chunk(fused):
    step = 1234
    net, msg = blow_up_at(step, fused)
    assert msg.startswith("populations.exc: ") and "non-finite at t = " in msg
    assert "\n" not in msg
    t_bad = step * net.dt
    assert t_bad < net.t <= t_bad + CHECK_EVERY * net.dt  # stopped within one chunk
    assert f"t = {net.t:g} ms" in msg
    assert not np.isfinite(net.populations[0].state["v"][3]) or \
        not np.isfinite(net.populations[0].state["u"][3])


@pytest.mark.parametrize("fused", [True, False])
def test_nonfinite_recurrent_weight(fused):
    """A recurrent weight of 1e306 overflows u and then v (the issue's example)."""
    net = bs.Network(dt=0.5, seed=2)
    pop = net.add(bs.Izhikevich.preset("RS", 20, name="exc"))
    net.connect(pop, pop, weight=1e306)
    net.add(bs.ConstantCurrent(pop, 10.0))
    with pytest.raises(BiosimError, match=r"^populations\.exc: [uv] became non-finite"):
        net.run(2000.0, fused=fused)
    assert net.t <= CHECK_EVERY * net.dt


def test_nonfinite_plastic_weights():
    """Hebbian weights that overflow while the post units stay finite (a LIF resets)."""
    net = bs.Network(dt=0.1, seed=3)
    pre = net.add(bs.PoissonGroup(5, 200.0, name="pre"))
    post = net.add(bs.LIF(3, refractory=0.0, name="post"))
    net.add(bs.ConstantCurrent(post, 1e4))  # fires every step: every pre spike coincides
    net.connect(pre, post, weight=0.0, rule=bs.Hebbian(eta=1e308))
    with pytest.raises(BiosimError, match=r"^projections\.pre->post: w became non-finite"):
        net.run(200.0)
    assert net.t <= CHECK_EVERY * net.dt


def test_what_when_reservoir_gain_1e300_is_an_error():
    """The what/when task with reservoir.g = 1e300 returned plausible metrics before."""
    from biosim.core.spec import evaluate, load_spec, override

    spec = override(load_spec("what_when"), "reservoir.g", 1e300)
    spec["task"]["blocks"] = [dict(spec["task"]["blocks"][0], n_trials=2)]
    with pytest.raises(BiosimError, match=r"^reservoir: v became non-finite"):
        evaluate(spec, 0)


def test_absurd_step_counts_refused():
    net = bs.Network(dt=1e-12)
    net.add(bs.LIF(1))
    with pytest.raises(BiosimError, match=r"^duration: .*1\.0e\+15 steps"):
        net.run(1000.0)


def test_reset_above_peak_and_threshold_below_reset_refused():
    with pytest.raises(BiosimError, match=r"^c: .*below v_peak = 30 mV"):
        bs.Izhikevich(5, c=30.0)
    with pytest.raises(BiosimError, match=r"^c: "):
        bs.Izhikevich(5, c=-40.0, v_peak=-45.0)
    with pytest.raises(BiosimError, match=r"^v_thresh: .*>= v_reset"):
        bs.LIF(5, v_reset=-50.0, v_thresh=-55.0)


def test_explicit_parameters_override_preset_and_heterogeneity():
    """Item 7: a = 0.5 with a heterogeneity draw was overwritten; preset + a was a TypeError."""
    pop = bs.Izhikevich.preset("FS", 50, heterogeneity=True, a=0.5)
    bs.Network(dt=0.5, seed=3).add(pop)
    assert np.all(pop.params["a"] == 0.5)
    assert np.ptp(pop.params["b"]) > 0  # the rest is still drawn
    pop = bs.Izhikevich.heterogeneous(50, "excitatory", d=3.0)
    bs.Network(dt=0.5, seed=3).add(pop)
    assert np.all(pop.params["d"] == 3.0) and np.ptp(pop.params["c"]) > 0
    pop = bs.Izhikevich.preset("RS", 4, c=-60.0)
    assert np.all(pop.params["c"] == -60.0) and np.all(pop.params["d"] == 8.0)


@pytest.mark.parametrize("sparse", [False, True])
def test_weight_matrix_must_be_pre_by_post(sparse):
    net = bs.Network(dt=0.5, seed=4)
    pre, post = net.add(bs.LIF(5, name="pre")), net.add(bs.LIF(3, name="post"))
    with pytest.raises(BiosimError, match=r"^weight: expected shape \(5, 3\), got 'shape \(3, 5\)'"):
        net.connect(pre, post, weight=np.ones((3, 5)), sparse=sparse)
    W = np.arange(15.0).reshape(5, 3)
    proj = net.connect(pre, post, weight=W, sparse=sparse)
    np.testing.assert_array_equal(proj.W, W)
    proj = net.connect(pre, post, bs.fixed_probability(0.5), weight=W)
    dense = proj.W
    assert np.all((dense == 0) | (dense == W))
