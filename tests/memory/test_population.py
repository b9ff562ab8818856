"""Clique memory inside a core Network: storage by the core ClippedHebbian rule on a recurrent
projection and retrieval by a ClusterWTA population equal the bit-packed kernels."""
import numpy as np
import pytest

import biosim as bs
from biosim.core.validation import BiosimError
from biosim.memory import CliqueNetwork, decode, noise
from biosim.memory.population import ClusterWTA, MessageReplay


def test_network_storage_and_retrieval_equal_kernels():
    c, l, M = 4, 20, 150
    msgs = noise.random_messages(M, c, l, seed=0)
    net = bs.Network(dt=1.0, seed=0)
    rep = net.add(MessageReplay(c, l, msgs))
    proj = net.connect(rep, rep, bs.all_to_all(allow_self=False), weight=0.0,
                       rule=bs.ClippedHebbian())
    net.run(M)
    W = proj.weights.to_dense()
    ref = CliqueNetwork(c, l).store(msgs)
    assert np.array_equal(W == 1, ref.dense_weights()) and set(np.unique(W)) == {0.0, 1.0}

    cues = noise.erase_clusters(msgs[:15], 2, seed=1)
    got = []
    for cue in cues:
        n2 = bs.Network(dt=1.0, seed=0)
        pop = n2.add(ClusterWTA(c, l, cue, gamma=1.0))
        n2.connect(pop, pop, weight=W)
        n2.run(3)
        got.append(pop.activity.copy())
    want = ref.retrieve(cues, rule="sos", iterations=3, gamma=1.0).reshape(15, -1)
    assert np.array_equal(np.array(got), want)


def test_population_bad_input():
    with pytest.raises(BiosimError, match=r"messages\[0, 1\]"):
        MessageReplay(3, 4, [[0, 4, 1]])
    with pytest.raises(BiosimError, match="^gamma"):
        ClusterWTA(3, 4, [0, -1, 1], gamma=-1)


def test_willshaw_population_equals_retrieve():
    """WillshawMemory.add_to: one network step from a cue == WillshawMemory.retrieve (cue-size
    threshold and a fixed one); the sums are monitored."""
    from biosim.memory import WillshawMemory

    n, M, a = 200, 30, 8
    rng = np.random.default_rng(5)
    pats = np.zeros((M, n), bool)
    for p in pats:
        p[rng.choice(n, a, replace=False)] = True
    cues = pats[:6] & (rng.random((6, n)) < 0.7)
    for threshold in (None, 4):
        mem = WillshawMemory(n, threshold=threshold).store(pats)
        want = mem.retrieve(cues)
        for cue, w in zip(cues, want):
            net = bs.Network(dt=1.0, seed=0)
            pop = mem.add_to(net, cue=cue)
            sums = net.monitor(pop, "sum")
            net.run(1.0)
            assert np.array_equal(pop.activity, w)
            assert np.array_equal(sums.values[0], mem.dendritic_sums(cue)[0])


def test_spikes_of_another_population_cue_the_clique_memory():
    """A SpikeGenerator firing a partial message (two clusters erased) one-to-one onto the
    memory's cue input: the memory then retrieves as CliqueNetwork.retrieve from that cue."""
    c, l, M = 4, 16, 40
    msgs = noise.random_messages(M, c, l, seed=2)
    mem = CliqueNetwork(c, l).store(msgs)
    cue = noise.erase_clusters(msgs[3:4], 2, seed=3)[0]
    idx = [k * l + cue[k] for k in range(c) if cue[k] >= 0]
    net = bs.Network(dt=1.0, seed=0)
    src = net.add(bs.SpikeGenerator(c * l, idx, [2.0] * len(idx), name="spikes"))
    wta = mem.add_to(net)
    net.connect(src, wta, weight=np.eye(c * l), target="cue")
    act = net.monitor(wta, "binary")
    net.run(8.0)
    assert not act.values[:3].any()  # silent until the cue arrives (delivered at step 3)
    want = mem.retrieve(cue[None], iterations=4).reshape(-1)
    assert np.array_equal(act.values[-1], want)
    assert np.array_equal(decode(act.values[-1].reshape(c, l)), msgs[3])
