"""Clique memory inside a core Network: storage by the core ClippedHebbian rule on a recurrent
projection and retrieval by a ClusterWTA population equal the bit-packed kernels."""
import numpy as np
import pytest

import biosim as bs
from biosim.core.validation import BiosimError
from biosim.memory import CliqueNetwork, noise
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
