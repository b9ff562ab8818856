"""The Coyac et al. (2017) process: noisy inputs under an energy limit form the clique memory
of the clean messages (Gripon & Berrou 2011), checked connection by connection."""
import numpy as np
import pytest

from biosim.core.validation import BiosimError
from biosim.memory import CliqueNetwork, noise
from biosim.memory.coyac import CoyacLearner, connection_overlap

C, L, K = 8, 32, 20


@pytest.fixture(scope="module")
def learned():
    rng = np.random.default_rng(0)
    msgs = noise.random_messages(K, C, L, rng)
    stream = noise.to_activity(msgs[rng.integers(0, K, 2000)], L)
    noisy = noise.flip(stream, p_insert=1 / L, p_erase=0.2, seed=rng)  # ~1 insertion/cluster
    return msgs, CoyacLearner(C, L, seed=1).fit(noisy), rng


def test_connections_match_clean_clique_memory(learned):
    msgs, lr, _ = learned
    clean = CliqueNetwork(C, L).store(msgs).dense_weights()
    ov = connection_overlap(lr.connections_, clean)
    assert ov["recall"] == 1.0 and ov["precision"] > 0.98 and ov["jaccard"] > 0.98
    assert np.array_equal(lr.connections_, lr.connections_.T)


@pytest.mark.parametrize("n_erased,worst", [(4, 0.05), (6, 0.5)])
def test_learned_network_retrieves_like_clean_memory(learned, n_erased, worst):
    msgs, lr, rng = learned
    truth = msgs[rng.integers(0, K, 3000)]
    cues = noise.to_activity(noise.erase_clusters(truth, n_erased, rng), L)
    cues = noise.insert_per_cluster(cues, 1, rng)
    err_learned = lr.to_network(rule="som").error_rate(truth, cues)
    err_clean = CliqueNetwork(C, L, rule="som").store(msgs).error_rate(truth, cues)
    assert abs(err_learned - err_clean) <= 0.02 and err_learned < worst


def test_energy_limit_holds_at_every_step():
    rng = np.random.default_rng(2)
    msgs = noise.random_messages(10, 6, 16, rng)
    noisy = noise.flip(noise.to_activity(msgs[rng.integers(0, 10, 300)], 16), 0.1, 0.1, rng)
    lr = CoyacLearner(6, 16, max_active=2, max_strengthened=9, leak=0.01, seed=3)
    cluster = np.repeat(np.arange(6), 16)
    inter = np.triu(cluster[:, None] != cluster[None, :])
    for x in noisy:
        before = lr.strengths_.copy() if hasattr(lr, "strengths_") else np.zeros((96, 96))
        r = lr.partial_fit(x)
        assert r.sum(axis=1).max() <= 2
        grown = (lr.strengths_ > (1 - lr.leak) * before + 1e-12) & inter
        assert grown.sum() <= 9
    h = lr.history_
    assert len(h["strengthened"]) == 300 and h["strengthened"].max() <= 9
    assert h["max_active"].max() <= 2 and np.all(np.diff(h["connections"]) >= 0)


def test_bad_input():
    with pytest.raises(BiosimError, match="^l"):
        CoyacLearner(4, 1)
    with pytest.raises(BiosimError, match="^leak"):
        CoyacLearner(4, 8, leak=1.0)
    with pytest.raises(BiosimError, match="^input"):
        CoyacLearner(4, 8).partial_fit(np.zeros((4, 7), bool))


def test_saved_learner_continues_exactly(tmp_path):
    """save/load mid-stream, then the rest of the stream: the same connections, strengths
    and tie-breaks as one uninterrupted run."""
    rng = np.random.default_rng(5)
    msgs = noise.random_messages(6, 5, 12, rng)
    noisy = noise.flip(noise.to_activity(msgs[rng.integers(0, 6, 120)], 12), 0.1, 0.1, rng)
    ref = CoyacLearner(5, 12, max_active=2, seed=4).fit(noisy)
    part = CoyacLearner(5, 12, max_active=2, seed=4).fit(noisy[:50])
    part.save(tmp_path / "c")
    back = CoyacLearner.load(tmp_path / "c")
    for x in noisy[50:]:
        back.partial_fit(x)
    np.testing.assert_array_equal(back.connections_, ref.connections_)
    np.testing.assert_array_equal(back.strengths_, ref.strengths_)
    for k in ref.history_:
        np.testing.assert_array_equal(back.history_[k], ref.history_[k])
    assert back.get_params() == ref.get_params()
    np.testing.assert_array_equal(back.fit(noisy).strengths_, ref.strengths_)  # fit restarts
