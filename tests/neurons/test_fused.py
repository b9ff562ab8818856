"""The fused Izhikevich kernel against the generic loop of Network (the reference): the same
spikes, bit for bit, and the same state left in every object, so that runs may switch paths
and be checkpointed at any step."""
import copy

import numpy as np
import pytest

import biosim as bs
from biosim.core.validation import BiosimError
from biosim.neurons import Izhikevich


def net_2003(n_exc=800, n_inh=200, seed=1):
    """The 1000-neuron network of Izhikevich (2003) (dense, no delays)."""
    net = bs.Network(dt=1.0, seed=seed)
    e = net.add(Izhikevich.heterogeneous(n_exc, "excitatory", name="exc"))
    i = net.add(Izhikevich.heterogeneous(n_inh, "inhibitory", name="inh"))
    net.connect(e, [e, i], weight=bs.uniform(0.0, 0.5))
    net.connect(i, [e, i], weight=bs.uniform(-1.0, 0.0))
    net.add(bs.GaussianNoise(e, 5.0))
    net.add(bs.GaussianNoise(i, 2.0))
    for p in (e, i):
        net.monitor(p, "spikes")
        net.monitor(p, "rate")
    net.monitor(e, "v", indices=[0, 5, n_exc - 1], every=3)
    net.monitor(i, "I")
    return net


def net_mixed(seed=3):
    """Everything the kernel supports: CSR with scalar and per-synapse delays, dense without,
    both schemes, every supported input (with indices, every=k; noise with one std for all
    units and one per unit) and monitor."""
    net = bs.Network(dt=0.5, seed=seed)
    e = net.add(Izhikevich.preset("RS", 120, name="e"))
    f = net.add(Izhikevich.preset("FS", 40, name="f", scheme="euler"))
    c = net.add(Izhikevich.preset("CH", 30, name="c", v_peak=25.0))
    net.connect(e, f, bs.fixed_probability(0.2), weight=bs.uniform(0, 3.0), delay=1.5)
    net.connect(e, e, bs.fixed_probability(0.1), weight=bs.uniform(0, 2.0),
                delay=_delays)
    net.connect(f, [e, c], weight=bs.uniform(-2.0, 0.0))
    net.connect(c, e, bs.fixed_indegree(5), weight=1.5)
    net.add(bs.GaussianNoise(e, 6.0, mean=2.0, every=3))
    net.add(bs.GaussianNoise(f, np.linspace(1, 4, 10), every=2, indices=np.arange(10),
                             block=7))
    net.add(bs.ConstantCurrent(c, 9.0))
    net.add(bs.ConstantCurrent(f, np.full(5, 4.0), indices=[1, 3, 5, 7, 9]))
    rng = np.random.default_rng(0)
    net.add(bs.ArrayCurrent(e, rng.normal(4.0, 2.0, (90, 120)), every=4))
    net.add(bs.ArrayCurrent(c, np.array([1.0, -2.0, 3.0]), every=50))
    net.add(bs.StepCurrent(f, [10.0, 60.0], [3.0, -1.0]))
    net.add(bs.GaussianNoise(c, np.linspace(0.5, 2.0, 30)))  # one std per unit, all units
    for p in (e, f, c):
        net.monitor(p, "spikes")
        net.monitor(p, "rate")
    net.monitor(e, "u", indices=[3, 4], every=2)
    net.monitor(f, "v")
    net.monitor(c, "spikes", indices=None, every=1)
    net.monitor(net.projections[1], "w", indices=[0, 7], every=3)  # CSR
    net.monitor(net.projections[2], "w")  # dense
    return net


def _delays(rng, n):
    """Per-synapse delays, 0 to 4 ms in 0.5 ms steps."""
    return 0.5 * rng.integers(0, 9, n)


def snapshot(net):
    """Everything a run leaves behind, as plain arrays."""
    out = {"step": net.step_count}
    for p in net.populations:
        for k, x in [*p.state.items(), *p.inputs.items(), ("act", p.activity)]:
            out[f"{p.name}.{k}"] = x.copy()
    for j, pr in enumerate(net.projections):
        if pr.history is not None:
            out[f"hist{j}"] = pr.history.copy()
    for j, q in enumerate(net.inputs):
        if isinstance(q, bs.GaussianNoise):
            out[f"noise{j}.last"] = q._buffer[q._row - 1].copy() if q._row else None
            out[f"noise{j}.cur"] = None if q._current is None else q._current.copy()
            q = copy.deepcopy(q)  # the stream from here on (buffered rows, then the state)
            out[f"noise{j}.next"] = np.array([q.draw() for _ in range(q.block + 3)])
    for j, m in enumerate(net.monitors):
        if isinstance(m, bs.SpikeMonitor):
            out[f"mon{j}"] = (m.steps.copy(), m.i.copy())
        elif isinstance(m, bs.RateMonitor):
            out[f"mon{j}"] = m.counts.copy()
        else:
            out[f"mon{j}"] = (m.t.copy(), m.values.copy(), m.values.dtype)
    return out


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, tuple):
            for xi, yi in zip(x, y):
                assert np.array_equal(xi, yi), k
        else:
            assert np.array_equal(x, y), k


def run_both(make, duration):
    """Snapshots of two networks from ``make()`` after ``duration`` ms: generic loop, fused."""
    ref, fast = make(), make()
    ref.run(duration, fused=False)
    fast.run(duration, fused=True)
    return snapshot(ref), snapshot(fast)


def test_2003_network_fused_equals_generic():
    """Izhikevich (2003) network, 400 ms: identical spikes, state, noise stream, monitors."""
    assert Izhikevich.fused_runner(net_2003()) is not None
    a, b = run_both(net_2003, 400.0)
    assert a["mon0"][0].size > 1000  # the network is active
    assert_same(a, b)


def test_large_sparse_network_fused_equals_generic():
    """CSR projections large enough that delivery prefetches whole rows (at least
    ``_WHOLE_ROWS`` synapses): identical spikes and state."""
    import biosim.neurons.fused as fused

    def make():
        net = bs.Network(dt=1.0, seed=5)
        e = net.add(Izhikevich.heterogeneous(1600, "excitatory", name="exc"))
        i = net.add(Izhikevich.heterogeneous(400, "inhibitory", name="inh"))
        net.connect(e, [e, i], bs.fixed_probability(0.1), weight=bs.uniform(0.0, 2.5))
        net.connect(i, [e, i], bs.fixed_probability(0.1), weight=bs.uniform(-5.0, 0.0))
        net.add(bs.GaussianNoise(e, 5.0))
        net.add(bs.GaussianNoise(i, 2.0))
        net.monitor(e, "spikes")
        net.monitor(i, "I")
        return net

    assert make().projections[0].weights.n_synapses >= fused._WHOLE_ROWS
    a, b = run_both(make, 150.0)
    assert a["mon0"][0].size > 1000  # the network is active
    assert_same(a, b)


def test_networks_that_fetch_ahead_fused_equal_generic():
    """From ``_AHEAD_UNITS`` units on, a block's neuron arrays are fetched while its noise is
    drawn (a loop of its own over the stream): identical noise, spikes and state."""
    import biosim.neurons.fused as fused

    n = fused._AHEAD_UNITS + 1000

    def make():
        net = bs.Network(dt=1.0, seed=6)
        e = net.add(Izhikevich.heterogeneous(n * 4 // 5, "excitatory", name="exc"))
        i = net.add(Izhikevich.heterogeneous(n - e.n, "inhibitory", name="inh"))
        net.add(bs.GaussianNoise(e, 5.0))
        net.add(bs.GaussianNoise(i, np.random.default_rng(1).uniform(1.0, 3.0, i.n)))
        net.monitor(e, "spikes")
        return net

    a, b = run_both(make, 30.0)
    assert a["mon0"][0].size > 100  # the network is active
    assert_same(a, b)


def test_both_quadratic_forms_fused_equal_generic():
    """A 2003 population beside a Nicola & Clopath one (the reservoir's neurons, C = 250,
    v_u = -60): the fused kernel reads each population's coefficients."""
    def build():
        net = bs.Network(dt=0.05, seed=2)
        e = net.add(Izhikevich.preset("RS", 60, name="e"))
        nc = net.add(Izhikevich(40, 0.01, -2.0, -65.0, 200.0, v0=-60.0, scheme="euler",
                                coefficients="nicola_clopath", name="nc"))
        net.connect(e, nc, bs.fixed_probability(0.3), weight=bs.uniform(0, 400.0))
        net.connect(nc, e, bs.fixed_probability(0.3), weight=bs.uniform(0, 2.0))
        net.add(bs.GaussianNoise(e, 5.0, mean=6.0))
        net.add(bs.ConstantCurrent(nc, 1500.0))  # above rheobase (~1000)
        for p in (e, nc):
            net.monitor(p, "spikes")
        net.monitor(nc, "v", indices=[0, 1])
        return net

    a, b = run_both(build, 200.0)
    assert a["mon0"][0].size > 20 and a["mon1"][0].size > 20
    assert_same(a, b)
    with pytest.raises(BiosimError, match="dt"):
        bs.Network(dt=0.5).add(Izhikevich(3, coefficients="nicola_clopath"))


def test_mixed_network_switching_paths_and_checkpoint(tmp_path):
    """Chunks of odd lengths, alternating fused and generic, and a checkpoint in the middle,
    give the same as one generic run (CSR, delays, both schemes, all inputs)."""
    ref = net_mixed()
    ref.run(300.0, fused=False)
    net = net_mixed()
    assert Izhikevich.fused_runner(net) is not None
    net.run(18.5, fused=True)
    net.run(7.0, fused=False)
    net.run(60.5, fused=True)
    net.save(tmp_path / "ckpt.npz")
    net = bs.Network.load(tmp_path / "ckpt.npz")
    net.run(0.5, fused=True)
    net.run(213.5, fused=True, progress=True)
    a, b = snapshot(ref), snapshot(net)
    assert all(a[f"mon{j}"][0].size > 50 for j in (0, 2, 4))
    assert_same(a, b)


def test_small_chunks_of_the_kernel(monkeypatch):
    """Sub-chunks smaller than the noise block and the ArrayCurrent rows change nothing."""
    import biosim.neurons.fused as fused

    ref = net_mixed()
    ref.run(100.0, fused=False)
    monkeypatch.setattr(fused, "_MAX_INPUT_FLOATS", 500)
    net = net_mixed()
    net.run(100.0, fused=True)
    assert_same(snapshot(ref), snapshot(net))


def test_unsupported_networks_use_the_generic_loop():
    net = net_2003(40, 10)
    net.callback(lambda n: None)
    assert Izhikevich.fused_runner(net) is None
    with pytest.raises(BiosimError, match="fused"):
        net.run(2.0, fused=True)
    net = net_2003(40, 10)
    net.add(bs.PoissonInput(net.populations[0], rate=10.0, weight=1.0))
    assert Izhikevich.fused_runner(net) is None
    net = net_2003(40, 10)
    e = net.populations[0]
    net.connect(e, e, weight=0.1, rule=bs.STDP())
    assert Izhikevich.fused_runner(net) is None
    net = net_2003(40, 10)
    e = net.populations[0]
    net.connect(e, e, weight=0.1, delay=2.0)  # dense with a delay: generic (BLAS order)
    assert Izhikevich.fused_runner(net) is None
    net = bs.Network(dt=1.0, seed=0)
    net.add(Izhikevich.preset("RS", 5))
    net.add(bs.LIF(5))
    assert net._fused_runner() is None
    net.run(3.0)  # the generic loop still runs it


def test_noise_stream_does_not_depend_on_the_block_size():
    """GaussianNoise draws one sequential stream: block=1 and block=256 (generic) and the
    kernel give the same currents and spikes."""
    runs = []
    for block, fused in ((1, False), (256, False), (5, True)):
        net = bs.Network(dt=1.0, seed=8)
        e = net.add(Izhikevich.preset("RS", 50, name="e"))
        net.add(bs.GaussianNoise(e, 6.0, mean=3.0, every=2, block=block))
        mon, cur = net.monitor(e, "spikes"), net.monitor(e, "I")
        net.run(60.0, fused=fused)
        runs.append((mon.steps.size, mon.steps, mon.i, cur.values))
    assert runs[0][0] > 20
    for other in runs[1:]:
        for x, y in zip(runs[0][1:], other[1:]):
            assert np.array_equal(x, y)


@pytest.mark.parametrize("make", [net_mixed, net_2003])
def test_threads_give_the_same_result(monkeypatch, make):
    """Delivery and neuron updates split over numba's threads (each thread its own range of
    units, CSR rows split at the threads' bounds): 1 and 2 threads give the generic loop's spikes and state, bit
    for bit (CSR with scalar and per-synapse delays, dense, every input and monitor)."""
    import numba

    import biosim.neurons.fused as fused

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread here (NUMBA_NUM_THREADS)")
    monkeypatch.setattr(fused, "PARALLEL_MIN_UNITS", 0)
    monkeypatch.setenv("BIOSIM_THREADS", "2")
    ref = make()
    ref.run(200.0, fused=False)
    before = numba.get_num_threads()
    out = {}
    try:
        for k in (1, 2):
            numba.set_num_threads(k)
            net = make()
            assert Izhikevich.fused_runner(net).n_threads == k
            net.run(200.0, fused=True)
            out[k] = snapshot(net)
            if k == 2 and any(not pr.weights.dense for pr in net.projections):
                split = Izhikevich.fused_runner(net).syn.split  # rows split once per network
                assert split.shape[0] == 3 and Izhikevich.fused_runner(net).syn.split is split
    finally:
        numba.set_num_threads(before)
    assert out[1]["mon0"][0].size > 50  # the network is active
    assert_same(snapshot(ref), out[1])
    assert_same(out[1], out[2])


def test_weights_changed_between_runs_are_used():
    """The kernel keeps a network's CSR index arrays between runs and reads the weights in
    place: CSR and dense weights changed in place, a weight array and an index array replaced,
    between two runs give the generic loop's result."""
    nets = [net_mixed(), net_mixed()]
    for net, fused_path in zip(nets, (False, True)):
        net.run(40.0, fused=fused_path)
        net.projections[0].weights.data *= 3.0
        net.projections[2].weights.W[:, :40] *= 0.5
        w = net.projections[4].weights
        w.data = w.data[::-1].copy()
        w = net.projections[1].weights
        w.indices = (w.indices + 1) % w.n_post  # new targets: the cached copy must not be used
        net.run(60.0, fused=fused_path)
    assert_same(snapshot(nets[0]), snapshot(nets[1]))


def test_threads_setting_is_checked(monkeypatch):
    """BIOSIM_THREADS: one thread unless asked; a bad value is a one-line error naming it."""
    import biosim.neurons.fused as fused

    monkeypatch.setattr(fused, "PARALLEL_MIN_UNITS", 0)
    monkeypatch.delenv("BIOSIM_THREADS", raising=False)
    assert Izhikevich.fused_runner(net_2003()).n_threads == 1
    monkeypatch.setenv("BIOSIM_THREADS", "two")
    with pytest.raises(BiosimError, match="BIOSIM_THREADS"):
        net_2003().run(1.0)


@pytest.mark.parametrize("make", [net_mixed, net_2003])
def test_blocks_of_units_and_noise_streams(monkeypatch, tmp_path, make):
    """Blocks of 7 units, each with its own noise streams (noise inputs larger than a block,
    listed units out of order across many blocks, spike lists gathered block by block),
    in 1 and 2 threads, switching paths and through a checkpoint: the generic loop's spikes,
    state, noise streams and monitors, bit for bit."""
    import numba

    import biosim.neurons.fused as fused

    monkeypatch.setattr(bs.core.inputs, "NOISE_BLOCK", 7)
    monkeypatch.setattr(fused, "PARALLEL_MIN_UNITS", 0)
    monkeypatch.setenv("BIOSIM_THREADS", "2")

    def build():
        net = make()
        e = net.populations[0]
        rng = np.random.default_rng(4)
        net.add(bs.GaussianNoise(e, rng.uniform(1, 3, 30), indices=rng.permutation(e.n)[:30]))
        return net

    ref = build()
    assert ref.inputs[0]._state.shape == (-(-ref.inputs[0].size // 7), 4)
    ref.run(120.0, fused=False)
    before = numba.get_num_threads()
    try:
        for k in (1, 2) if numba.config.NUMBA_NUM_THREADS > 1 else (1,):
            numba.set_num_threads(k)
            net = build()
            runner = fused.fused_runner(net)
            assert runner.n_threads == k
            assert runner.blocks.size > sum(p.n for p in net.populations) // 7
            net.run(43.0, fused=True)
            net.run(7.0, fused=False)
            net.save(tmp_path / "ckpt.npz")
            net = bs.Network.load(tmp_path / "ckpt.npz")
            net.run(70.0, fused=True)
            assert_same(snapshot(ref), snapshot(net))
    finally:
        numba.set_num_threads(before)


def test_noise_streams_of_a_one_stream_file(monkeypatch):
    """A GaussianNoise larger than a block whose file holds one stream (saved before the
    blocks) draws block b from that stream jumped b times, row after row."""
    from biosim.core import fastrandom

    monkeypatch.setattr(bs.core.inputs, "NOISE_BLOCK", 4)
    net = bs.Network(dt=1.0, seed=2)
    q = bs.GaussianNoise(net.add(Izhikevich.preset("RS", 10)), 1.0, block=3)
    q.initialize(np.random.default_rng(0))
    assert q._state.shape == (3, 4)
    first = q._state[0].copy()
    q._state = first.copy()  # as an older file holds it
    rows = np.array([q.draw() for _ in range(5)])
    streams = fastrandom.streams(first, 3)
    for b, (lo, hi) in enumerate([(0, 4), (4, 8), (8, 10)]):
        want = fastrandom.standard_normal(streams[b], 5 * (hi - lo)).reshape(5, hi - lo)
        assert np.array_equal(rows[:, lo:hi], want)


def test_intrinsics_type_their_arguments():
    """The kernel's intrinsics refuse arguments of other types at typing time."""
    from numba import njit
    from numba.core.errors import TypingError

    from biosim.neurons.fused import _floats_at, _prefetch

    @njit
    def ask(x, k):
        _prefetch(x, k)

    @njit
    def view(address, size):
        return _floats_at(address, size)

    x = np.arange(4.0)
    ask(x, 2)  # an array and an integer: fine
    assert view(x.ctypes.data, 4)[3] == 3.0
    with pytest.raises(TypingError):
        ask(x, 1.5)
    with pytest.raises(TypingError):
        ask(2.0, 1)
    with pytest.raises(TypingError):
        view(1.0, 4)
