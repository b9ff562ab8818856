"""Weight monitors on projections and the order-parameter monitor (issue 14, item 2; item 1
for Kuramoto's r and psi), and bs.plot.weights over existing synapses only."""
import numpy as np
import pytest

import biosim as bs
from biosim.core.validation import BiosimError
from biosim.oscillators import KuramotoPopulation, order_parameter


def stdp_network(sparse, seed=4):
    net = bs.Network(dt=0.5, seed=seed)
    src = net.add(bs.PoissonGroup(40, 30.0, name="src"))
    out = net.add(bs.LIF(12, name="out"))
    conn = bs.fixed_probability(0.3) if sparse else bs.all_to_all()
    proj = net.connect(src, out, conn, weight=bs.uniform(0.0, 1.0),
                       rule=bs.STDP(a_plus=0.02, a_minus=0.024))
    net.add(bs.PoissonInput(out, rate=150.0, weight=70.0, n_sources=5))
    return net, proj


@pytest.mark.parametrize("sparse", [False, True])
def test_weight_monitor_follows_the_projection(sparse):
    """Each record equals the weights of an unmonitored twin run stopped at that time, and
    the last record equals the projection's weights (dense and CSR, STDP on)."""
    net, proj = stdp_network(sparse)
    mon = net.monitor(proj, "w", every=40)
    net.run(200.5)  # 401 steps: records at steps 0, 40, ..., 400
    w = proj.weights
    assert mon.values.shape == (11, w.n_synapses)
    np.testing.assert_array_equal(mon.pre, w.pre_of)
    np.testing.assert_array_equal(mon.post, w.post_of)
    np.testing.assert_array_equal(mon.values[-1], proj.W[mon.pre, mon.post])
    np.testing.assert_allclose(mon.t, 20.0 * np.arange(11) + 0.5)
    assert np.abs(mon.values[-1] - mon.values[0]).max() > 0.01  # the weights did change
    twin, tproj = stdp_network(sparse)
    for k, t in enumerate(mon.t[:3]):
        twin.run(t - twin.t)
        np.testing.assert_array_equal(mon.values[k], tproj.W[mon.pre, mon.post])


def test_weight_monitor_selects_synapses_and_exports_a_table():
    net, proj = stdp_network(sparse=True)
    pick = [0, 5, proj.weights.n_synapses - 1]
    mon = net.monitor(proj, "w", indices=pick, every=2)
    net.run(10.0)
    assert mon.values.shape == (10, 3)
    np.testing.assert_array_equal(mon.values[-1], proj.weights.data[pick])
    df = mon.to_pandas()
    assert list(df.columns) == ["t_ms", "synapse", "pre", "post", "w"] and len(df) == 30
    np.testing.assert_array_equal(df["w"].to_numpy()[-3:], proj.weights.data[pick])
    np.testing.assert_array_equal(df["pre"].to_numpy()[:3], proj.weights.pre_of[pick])


def test_weight_monitor_bad_input():
    net, proj = stdp_network(sparse=True)
    with pytest.raises(BiosimError, match="what: expected 'w'"):
        net.monitor(proj, "v")
    with pytest.raises(BiosimError, match="indices"):
        net.monitor(proj, "w", indices=[proj.weights.n_synapses])
    with pytest.raises(BiosimError, match="every"):
        net.monitor(proj, "w", every=0)
    with pytest.raises(BiosimError, match="source: StateMonitor.*Projection"):
        bs.StateMonitor(proj, "v")
    with pytest.raises(BiosimError, match="source: WeightMonitor records 'weights'.*LIF"):
        bs.WeightMonitor(net.population("out"))
    other, oproj = stdp_network(sparse=False)
    with pytest.raises(BiosimError, match="projection"):
        net.add(bs.WeightMonitor(oproj))
    assert not net.monitors


def test_order_parameter_monitor():
    """r and psi recorded over time equal |mean e^(i theta)| and its angle computed from the
    recorded phases (Kuramoto 1975's order parameter)."""
    net = bs.Network(dt=0.05, seed=2)
    osc = net.add(KuramotoPopulation(50, omega=np.linspace(-0.2, 0.2, 50), K=1.5,
                                     name="osc"))
    theta = net.monitor(osc, "theta", every=4)
    r, psi = net.monitor(osc, "r", every=4), net.monitor(osc, "psi", every=4)
    part = net.monitor(osc, "r", indices=np.arange(10))
    vec = net.monitor(osc, "activity", indices=[0, 3], every=100)
    net.run(20.0)
    df = vec.to_pandas()  # unit vectors: one column per component
    assert df.shape == (4, 4) and df.columns[-1] == "activity[3][1]"
    th = theta.values[np.searchsorted(theta.t, vec.t[-1]), 3]
    np.testing.assert_allclose(df.to_numpy()[-1, 2:], [np.cos(th), np.sin(th)], atol=1e-12)
    r_ref, psi_ref = order_parameter(theta.values)
    np.testing.assert_allclose(r.values, r_ref, atol=1e-12)
    np.testing.assert_allclose(psi.values, psi_ref, atol=1e-12)
    np.testing.assert_array_equal(r.t, theta.t)
    assert r.values[-1] > 0.9 > r.values[0]  # locks from random phases
    assert part.values[-1] == pytest.approx(order_parameter(theta.values[-1, :10])[0])
    df = psi.to_pandas()
    assert list(df.columns) == ["t_ms", "r", "psi"] and len(df) == 100
    izh = net.add(bs.Izhikevich(3, name="izh"))
    with pytest.raises(BiosimError, match="OrderParameterMonitor.*Izhikevich 'izh'"):
        bs.OrderParameterMonitor(izh)
    with pytest.raises(BiosimError, match="var"):
        bs.OrderParameterMonitor(osc, "R")


@pytest.mark.parametrize("source", ["projection", "monitor"])
def test_plot_weights_shows_existing_synapses_only(source):
    """The histogram counts the CSR synapses, not the absent ones as zeros; the matrix
    leaves absent synapses blank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net, proj = stdp_network(sparse=True)
    mon = net.monitor(proj, "w", every=10)
    net.run(20.5)  # the last step is recorded
    W = proj if source == "projection" else mon
    ax = bs.plot.weights(W, kind="hist")
    assert sum(p.get_height() for p in ax.patches) == proj.weights.n_synapses
    ax = bs.plot.weights(W)
    M = ax.images[0].get_array()
    dense = proj.W
    absent = np.ones(dense.shape, bool)
    absent[proj.weights.pre_of, proj.weights.post_of] = False
    assert absent.sum() > 0 and np.all(np.isnan(np.asarray(M.filled(np.nan))[absent]))
    np.testing.assert_allclose(np.asarray(M)[~absent], dense[~absent])
    ax = bs.plot.traces(mon, max_traces=4)
    assert len(ax.lines) == 4 and ax.get_ylabel() == "w"
    plt.close("all")
    with pytest.raises(BiosimError, match="kind"):
        bs.plot.weights(proj, kind="histogram")


def test_new_monitors_continue_through_a_checkpoint(tmp_path):
    """save() mid-run then load(): weight and order-parameter records equal an uninterrupted
    run's."""
    def make():
        net, proj = stdp_network(sparse=True)
        osc = net.add(KuramotoPopulation(10, omega=0.1, K=1.0, name="osc"))
        return net, net.monitor(proj, "w", every=3), net.monitor(osc, "r", every=2)

    ref, w_ref, r_ref = make()
    ref.run(40.0)
    net, *_ = make()
    net.run(15.0)
    net.save(tmp_path / "ckpt.npz")
    net = bs.Network.load(tmp_path / "ckpt.npz")
    net.run(25.0)
    w_mon, r_mon = net.monitors[-2:]
    np.testing.assert_array_equal(w_mon.values, w_ref.values)
    np.testing.assert_array_equal(w_mon.pre, w_ref.pre)
    np.testing.assert_array_equal(r_mon.values, r_ref.values)
    np.testing.assert_array_equal(r_mon.t, r_ref.t)


def test_state_monitor_add_rows_and_reset(tmp_path):
    """add_rows(t, X) records what len(t) calls of add record; reset() forgets the records
    (refused for a monitor streaming to files, whose chunks stay)."""
    net = bs.Network(dt=0.5)
    pop = net.add(bs.LIF(3))
    a, b = net.monitor(pop, "v"), net.monitor(pop, "v", name="b")
    X = np.arange(12.0).reshape(4, 3)
    t = np.array([0.5, 1.0, 1.5, 2.0])
    a.add_rows(t, X)
    for tk, x in zip(t, X):
        b.add(tk, x)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.t, b.t)
    a.reset()
    assert a.values.shape == (0, 3) and a.t.size == 0
    net.run(5.0)
    assert a.values.shape == (10, 3)
    c = net.monitor(pop, "v", name="c", path=tmp_path / "c")
    with pytest.raises(BiosimError, match="path"):
        c.reset()
