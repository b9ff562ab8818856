"""The Network: exact checkpoints, seeds, delays, connectivity statistics, inputs, monitors."""
import math

import numpy as np
import pytest
from scipy import stats

import biosim as bs


def izhikevich2003(seed=1, n_exc=160, n_inh=40, fused=None):
    net = bs.Network(dt=1.0, seed=seed)
    exc = net.add(bs.Izhikevich.heterogeneous(n_exc, "excitatory", name="exc"))
    inh = net.add(bs.Izhikevich.heterogeneous(n_inh, "inhibitory", name="inh"))
    net.connect(exc, [exc, inh], weight=bs.uniform(0, 0.5 * 800 / n_exc))
    net.connect(inh, [exc, inh], weight=bs.uniform(-200 / n_inh, 0))
    net.add(bs.GaussianNoise(exc, std=5.0))
    net.add(bs.GaussianNoise(inh, std=2.0))
    return net, net.monitor(exc), net.monitor(inh)


def plastic_network(seed=2):
    """Poisson sources -> LIF with STDP on CSR weights with per-synapse delays."""
    net = bs.Network(dt=0.5, seed=seed)
    src = net.add(bs.PoissonGroup(50, 30.0, name="src"))
    out = net.add(bs.LIF(20, name="out"))
    net.connect(src, out, bs.fixed_probability(0.3), weight=bs.uniform(0, 4.0),
                delay=lambda rng, n: rng.integers(0, 6, n) * 0.5,
                rule=bs.STDP(a_plus=0.05, a_minus=0.06, w_max=4.0))
    net.add(bs.PoissonInput(out, rate=100.0, weight=70.0, n_sources=5))
    return net, net.monitor(src), net.monitor(out)


@pytest.mark.parametrize("make", [izhikevich2003, plastic_network])
def test_checkpoint_continues_bit_for_bit(make, tmp_path):
    """save() mid-run then load() gives exactly the spikes of an uninterrupted run."""
    ref, *ref_mons = make()
    ref.run(400.0)
    net, *_ = make()
    net.run(170.0)
    net.save(tmp_path / "ckpt.npz")
    resumed = bs.Network.load(tmp_path / "ckpt.npz")
    resumed.run(230.0)
    mons = [m for m in resumed.monitors if isinstance(m, bs.SpikeMonitor)]
    for a, b in zip(ref_mons, mons):
        assert a.i.size > 50
        assert np.array_equal(a.i, b.i) and np.array_equal(a.t, b.t)
    for pa, pb in zip(ref.projections, resumed.projections):
        assert np.array_equal(pa.weights.flat_values(), pb.weights.flat_values())


def test_same_seed_same_spikes_and_monitors_change_nothing():
    a, sa, _ = izhikevich2003(seed=5)
    b, sb, _ = izhikevich2003(seed=5)
    b.monitor(b.population("exc"), "v", indices=[0, 3], every=2)
    a.run(200.0)
    b.run(200.0)
    assert np.array_equal(sa.i, sb.i) and np.array_equal(sa.t, sb.t)
    c, sc, _ = izhikevich2003(seed=6)
    c.run(200.0)
    assert not (sc.i.size == sa.i.size and np.array_equal(sc.i, sa.i))


@pytest.mark.parametrize("delay_ms,sparse", [(0.0, False), (3.0, False), (3.0, True)])
def test_delay_arrives_after_delay_plus_one_step(delay_ms, sparse):
    """A spike emitted in step n reaches the target input in step n + 1 + delay/dt
    (Brian2's order: synaptic effects act in the next state update)."""
    net = bs.Network(dt=1.0, seed=0)
    src = net.add(bs.SpikeGenerator(1, [0], [5.0], name="src"))
    tgt = net.add(bs.LIF(1, name="tgt"))
    net.connect(src, tgt, weight=2.5, delay=delay_ms, sparse=sparse)
    mon = net.monitor(tgt, "I")
    net.run(20.0)
    arrived = np.flatnonzero(mon.values[:, 0])
    assert arrived.tolist() == [5 + 1 + int(delay_ms)]
    assert mon.values[arrived[0], 0] == 2.5


def test_fixed_probability_counts_are_binomial():
    net = bs.Network(dt=1.0, seed=11)
    a = net.add(bs.LIF(400, name="a"))
    proj = net.connect(a, a, bs.fixed_probability(0.05, allow_self=False))
    n_pairs = 400 * 399
    k = proj.weights.n_synapses
    assert abs(k - 0.05 * n_pairs) < 5 * math.sqrt(n_pairs * 0.05 * 0.95)
    assert not np.any(proj.weights.pre_of == proj.weights.post_of)
    # targets of each source are uniform over the others: chi-square on post indices
    counts = np.bincount(proj.weights.post_of, minlength=400)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_fixed_indegree_exact():
    net = bs.Network(dt=1.0, seed=3)
    a = net.add(bs.LIF(50, name="a"))
    b = net.add(bs.LIF(30, name="b"))
    proj = net.connect(a, b, bs.fixed_indegree(7))
    assert np.all(np.bincount(proj.weights.post_of, minlength=30) == 7)
    self_proj = net.connect(a, a, bs.fixed_indegree(49, allow_self=False))
    assert not np.any(self_proj.weights.pre_of == self_proj.weights.post_of)
    with pytest.raises(bs.BiosimError, match="k"):
        net.connect(a, a, bs.fixed_indegree(50, allow_self=False))


def test_gaussian_noise_redrawn_every_k_steps():
    net = bs.Network(dt=0.5, seed=4)
    pop = net.add(bs.LIF(2000, name="p"))
    net.add(bs.GaussianNoise(pop, std=3.0, mean=1.0, every=4))
    mon = net.monitor(pop, "I", indices=np.arange(2000))
    net.run(40.0)
    v = mon.values
    assert np.array_equal(v[0], v[3]) and not np.array_equal(v[3], v[4])
    assert v[::4].std() == pytest.approx(3.0, rel=0.02)
    assert v[::4].mean() == pytest.approx(1.0, abs=0.03)


def test_poisson_sources_rate():
    net = bs.Network(dt=0.1, seed=2)
    src = net.add(bs.PoissonGroup(500, 20.0, name="src"))
    mon = net.monitor(src)
    net.run(1000.0)
    assert mon.count.mean() == pytest.approx(20.0, abs=5 * math.sqrt(20 / 500))


def test_lif_rate_matches_closed_form():
    """Constant drive: ISI = t_ref + tau ln(R I / (R I - (theta - v_reset)))."""
    tau, R_I, thr, ref = 20.0, 20.0, 15.0, 2.0
    net = bs.Network(dt=0.01, seed=0)
    pop = net.add(bs.LIF(1, tau_m=tau, v_rest=0.0, v_reset=0.0, v_thresh=thr,
                         refractory=ref, name="lif"))
    net.add(bs.ConstantCurrent(pop, R_I))
    mon = net.monitor(pop)
    net.run(1000.0)
    isi = np.diff(mon.t).mean()
    assert isi == pytest.approx(ref + tau * math.log(R_I / (R_I - thr)), rel=0.01)


def test_state_monitor_and_pandas():
    net, se, _ = izhikevich2003()
    exc = net.population("exc")
    vm = net.monitor(exc, "v", indices=[1, 2], every=5)
    rm = net.monitor(exc, "rate")
    net.run(100.0)
    assert vm.values.shape == (20, 2)
    df = vm.to_pandas()
    assert list(df.columns) == ["v[1]", "v[2]"] and df.index[0] == 1.0
    assert se.to_pandas().shape[0] == se.i.size
    assert rm.counts.sum() == se.i.size
    with pytest.raises(bs.BiosimError, match="variable"):
        net.monitor(exc, "w")


def test_building_errors():
    net = bs.Network(dt=1.0, seed=0)
    a = net.add(bs.LIF(3, name="a"))
    other = bs.LIF(3, name="b")
    with pytest.raises(bs.BiosimError, match="population"):
        net.connect(a, other)
    with pytest.raises(bs.BiosimError, match="name"):
        net.add(bs.LIF(3, name="a"))
    with pytest.raises(bs.BiosimError, match="weight"):
        net.connect(a, a, weight=np.ones(5))
    with pytest.raises(bs.BiosimError, match="delay"):
        net.connect(a, a, delay=0.3)
    with pytest.raises(bs.BiosimError, match="target"):
        net.connect(a, a, target="ge")
    with pytest.raises(bs.BiosimError, match="dt"):
        bs.Network(dt=float("nan"))
    with pytest.raises(bs.BiosimError, match="dt"):
        bs.Network(dt=2.0).add(bs.Izhikevich(3))
    with pytest.raises(bs.BiosimError, match="duration"):
        net.run(-1.0)


def test_poisson_group_draw_block_plays_the_drawn_trains():
    """draw_block: the next steps fire exactly as fastrandom.poisson_steps drew them from the
    same stream; then the group's own rates again (0: silent, without draws)."""
    from biosim.core import fastrandom

    net = bs.Network(dt=0.5, seed=0)
    src = net.add(bs.PoissonGroup(20, 0.0, name="src"))
    mon = net.monitor(src, "spikes")
    stream = fastrandom.seed_state(np.random.default_rng(1))
    twin = stream.copy()
    rates = np.linspace(0.0, 400.0, 20)
    src.draw_block(rates, 40, 0.5, stream)
    net.run(30.0)
    ids, ptr = np.empty(800, np.int64), np.empty(41, np.int64)
    fastrandom.draw_poisson_steps(twin, rates, 0.5, 40, ids, ptr, np.empty(800, np.int64),
                                  np.empty(800, np.int64))
    want = sorted((s, int(i)) for s in range(40) for i in ids[ptr[s]:ptr[s + 1]])
    assert sorted(zip(mon.steps.tolist(), mon.i.tolist())) == want and len(want) > 50
    np.testing.assert_array_equal(stream, twin)
    with pytest.raises(bs.BiosimError, match="n_steps"):
        src.draw_block(rates, -1, 0.5, stream)


def test_poisson_group_take_fires_as_its_steps_would():
    """take(n): the spikes of the next n steps, the block drawn ahead first and then the
    rates from the group's generator, as n calls of step fire them (what fused kernels
    read); the generator and the activity end where the steps leave them."""
    from biosim.core import fastrandom

    groups = [bs.PoissonGroup(30, np.linspace(0.0, 300.0, 30)) for _ in range(2)]
    stream = fastrandom.seed_state(np.random.default_rng(2))
    for g in groups:
        g.initialize(np.random.default_rng(3))
        g.draw_block(np.full(30, 150.0), 7, 0.5, stream.copy())
    stepped = []
    for s in range(25):
        groups[0].step(s * 0.5, 0.5)
        stepped += [(s, int(i)) for i in np.flatnonzero(groups[0].activity)]
    got = []
    for start, n in ((0, 3), (3, 10), (13, 0), (13, 12)):
        ids, ptr = groups[1].take(n, 0.5)
        got += [(start + s, int(i)) for s in range(n) for i in ids[ptr[s]:ptr[s + 1]]]
    assert got == stepped and len(got) > 40
    np.testing.assert_array_equal(groups[1].activity, groups[0].activity)
    assert groups[1]._rng.random() == groups[0]._rng.random()
