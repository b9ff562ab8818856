"""Typed activity (issue 14, item 1) and sign-aware rule bounds (item 3): a monitor or rule of
the wrong kind, and bounds that would clip the initial weights, are one-line errors naming
both objects; a population with two kinds (reservoir: rate and spikes) serves both."""
import numba
import numpy as np
import pytest

import biosim as bs
from biosim.core.population import KINDS, Population
from biosim.core.validation import BiosimError
from biosim.memory.population import ClusterWTA
from biosim.oscillators import KuramotoPopulation
from biosim.reservoir import Reservoir
from biosim.reservoir.network import LinearReadout, ReservoirPopulation


def _one_line(err):
    msg = str(err.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize("what", ["spikes", "rate"])
def test_spike_and_rate_monitors_refuse_oscillators_and_analog_units(what):
    """The bug of issue 14: a spike monitor on 5 oscillators recorded 1,000 'spikes'."""
    net = bs.Network(dt=0.1, seed=0)
    osc = net.add(KuramotoPopulation(5, omega=1.0, name="osc"))
    out = net.add(LinearReadout(3, name="out"))
    for pop, kind in ((osc, "phase"), (out, "analog")):
        with pytest.raises(BiosimError) as err:
            net.monitor(pop, what)
        msg = _one_line(err)
        assert msg.startswith("source:") and pop.name in msg and kind in msg
        assert ("SpikeMonitor" if what == "spikes" else "RateMonitor") in msg
    with pytest.raises(BiosimError, match="SpikeMonitor.*KuramotoPopulation 'osc'"):
        net.add(bs.SpikeMonitor(osc))
    with pytest.raises(BiosimError, match="variable.*KuramotoPopulation 'osc', got 'spikes'"):
        bs.StateMonitor(osc, "spikes")  # oscillators have no spikes to record either
    assert not net.monitors


def test_a_rate_population_has_no_spikes_to_monitor():
    class Rates(Population):
        activity_kinds = ("rate",)

        def step(self, t, dt):
            self.activity[:] = 5.0

    net = bs.Network(dt=0.1, seed=0)
    pop = net.add(Rates(4, name="rates"))
    for what in ("spikes", "rate"):
        with pytest.raises(BiosimError, match="records 'spikes', but Rates 'rates' is of kind"):
            net.monitor(pop, what)
    mon = net.monitor(pop, "activity")
    net.run(0.3)
    np.testing.assert_array_equal(mon.values, np.full((3, 4), 5.0))


def test_reservoir_spike_and_rate_monitors_read_its_spikes():
    """ReservoirPopulation is ("rate", "spikes"): projections read the filtered rate, spike
    and rate monitors read the spikes (they counted rates as spikes before)."""
    res = Reservoir(40, g=100, tau_decay=20, bias=0, bias_std=3, n_inputs=1, input_gain=10,
                    seed=3)
    net = bs.Network(dt=res.dt, seed=0)
    pop = net.add(ReservoirPopulation(res))
    assert pop.activity_kinds == ("rate", "spikes")
    net.connect(pop, pop, bs.all_to_all(), weight=res.W)
    net.add(bs.ArrayCurrent(pop, res.currents(np.ones((200, 1)))))
    spikes, rate = net.monitor(pop, "spikes"), net.monitor(pop, "rate")
    act, state_spikes = net.monitor(pop, "activity"), net.add(bs.StateMonitor(pop, "spikes"))
    net.run(200 * res.dt)
    s = state_spikes.values
    assert 0 < s.sum() < 0.5 * s.size  # spikes, not the (mostly nonzero) rates
    assert spikes.i.size == s.sum()
    np.testing.assert_array_equal(rate.counts, s.sum(axis=1))
    assert np.count_nonzero(act.values) > 2 * s.sum()  # rates: nonzero between spikes


def test_rules_refuse_activity_they_do_not_read():
    net = bs.Network(dt=0.1, seed=0)
    osc = net.add(KuramotoPopulation(4, name="osc"))
    src = net.add(bs.PoissonGroup(4, 10.0, name="src"))
    out = net.add(LinearReadout(4, name="out"))
    with pytest.raises(BiosimError) as err:
        net.connect(osc, osc, rule=bs.STDP())
    msg = _one_line(err)
    assert msg.startswith("rule:") and "STDP" in msg and "'osc'" in msg and "'phase'" in msg
    with pytest.raises(BiosimError, match="rule: STDP.*post LinearReadout 'out'.*'analog'"):
        net.connect(src, out, weight=0.5, rule=bs.STDP())
    with pytest.raises(BiosimError, match="rule: Oja.*'phase'"):
        net.connect(osc, osc, rule=bs.Oja(eta=0.1))
    assert not net.projections
    net.connect(osc, osc, rule=bs.Hebbian(eta=0.1, decay=1.0))  # Hebbian reads phases
    net.connect(src, out, weight=0.5, rule=bs.ThreeFactor(eta=0.1, modulators=()))


def test_local_rule_declares_what_it_reads():
    @numba.njit
    def k(w, pre, post, pre_tr, post_tr, mod, dt, p):
        return 0.0

    net = bs.Network(dt=0.1, seed=0)
    src = net.add(bs.PoissonGroup(4, 10.0, name="src"))
    wta = net.add(ClusterWTA(2, 2, [0, 1], name="wta"))
    net.connect(src, net.add(bs.LIF(3)), rule=bs.LocalRule(k))
    with pytest.raises(BiosimError, match="rule: LocalRule reads 'spikes'.*'wta'.*'binary'"):
        net.connect(src, wta, rule=bs.LocalRule(k, accepts="spikes"))
    with pytest.raises(BiosimError, match="accepts"):
        bs.LocalRule(k, accepts=("spikes", "voltage"))


def test_population_kinds_are_declared_and_checked():
    assert bs.Izhikevich(3).activity_kinds == ("spikes",)
    assert KuramotoPopulation(3).activity_kinds == ("phase",)
    assert set(bs.STDP.accepts) <= set(KINDS) and set(bs.StateMonitor.accepts) == set(KINDS)
    with pytest.raises(BiosimError, match="activity_kinds"):
        type("Bad", (Population,), {"activity_kinds": ("volts",)})
    with pytest.raises(BiosimError, match="kind"):
        bs.Izhikevich(3).activity_of("rate")


@pytest.mark.parametrize("sparse", [False, True])
def test_stdp_default_bounds_refuse_an_inhibitory_projection(sparse):
    """Issue 14: STDP's [0, 1] turned an inhibitory projection in [-1, 0] into [0, 0.05]."""
    net = bs.Network(dt=0.5, seed=1)
    src = net.add(bs.PoissonGroup(30, 40.0, name="src"))
    out = net.add(bs.LIF(10, name="out"))
    conn = bs.fixed_probability(0.5) if sparse else bs.all_to_all()
    with pytest.raises(BiosimError) as err:
        net.connect(src, out, conn, weight=bs.uniform(-1.0, 0.0), rule=bs.STDP())
    msg = _one_line(err)
    assert msg.startswith("w_min/w_max:") and "STDP" in msg and "src->out" in msg
    assert "sign" in msg
    with pytest.raises(BiosimError, match="w_min/w_max: Hebbian bounds \\[0, 0.5\\] would clip"):
        net.connect(src, out, conn, weight=bs.uniform(0.0, 1.0),
                    rule=bs.Hebbian(eta=0.1, w_min=0.0, w_max=0.5))
    assert not net.projections
    proj = net.connect(src, out, conn, weight=bs.uniform(-1.0, 0.0),
                       rule=bs.STDP(a_plus=0.05, a_minus=0.05, w_min=-1.0, w_max=0.0))
    net.add(bs.PoissonInput(out, rate=200.0, weight=80.0, n_sources=5))
    w0 = proj.weights.flat_values().copy()
    net.run(300.0)
    w = proj.weights.flat_values()
    assert np.all(w <= 0.0) and np.all(w >= -1.0)
    assert np.abs(w - w0).max() > 0.01  # STDP acted, within the sign of the weights
    assert np.count_nonzero(w) > 0.9 * w.size  # not collapsed onto 0
