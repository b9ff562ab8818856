"""Gripon-Berrou clique network: kernels vs the NumPy twin, and the closed forms of
Gripon & Berrou (2011) (density, one-iteration error) at c = 8, l = 256."""
import numpy as np
import pytest

from biosim.core.plasticity import ClippedHebbian
from biosim.core.validation import BiosimError
from biosim.memory import CliqueNetwork, noise, theory
from biosim.memory.reference import retrieve_dense, store_dense

C, L = 8, 256


def _erased_cues(messages, n, n_erased, seed):
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(messages), n)
    return messages[idx], noise.erase_clusters(messages[idx], n_erased, rng)


@pytest.mark.parametrize("c,l", [(4, 70), (3, 64), (5, 130)])
def test_store_matches_numpy_twin(c, l):
    msgs = noise.random_messages(300, c, l, seed=1)
    net = CliqueNetwork(c, l).store(msgs[:100]).store(msgs[100:])
    dense = store_dense(np.zeros((c * l, c * l), bool), msgs, l)
    assert np.array_equal(net.dense_weights(), dense)
    assert net.n_stored_ == 300


def test_store_equals_core_clipped_hebbian():
    """The bit-packed kernel equals the core rule W = max(W, x x^T) on one-hot messages,
    minus the diagonal (a clique has no self-connection)."""
    c, l = 4, 70
    msgs = noise.random_messages(60, c, l, seed=5)
    W = np.zeros((c * l, c * l))
    rule = ClippedHebbian()
    for x in noise.to_activity(msgs, l).reshape(60, -1):
        rule.apply(W, x, x)
    np.fill_diagonal(W, 0.0)
    assert np.array_equal(CliqueNetwork(c, l).store(msgs).dense_weights(), W == 1)


@pytest.mark.parametrize("rule", ["sos", "som"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0])
def test_retrieve_matches_numpy_twin(rule, gamma):
    c, l = 4, 70  # l not a multiple of 64: padding bits must stay silent
    msgs = noise.random_messages(900, c, l, seed=2)
    net = CliqueNetwork(c, l, rule=rule, gamma=gamma, iterations=5).store(msgs)
    cues = noise.to_activity(noise.erase_clusters(msgs[:150], 2, seed=3), l)
    cues = noise.flip(cues, p_insert=0.02, seed=4)  # insertions too
    got = net.retrieve(cues)
    want = retrieve_dense(net.dense_weights(), cues.reshape(150, -1), c, l, gamma, 5, rule)
    assert np.array_equal(got.reshape(150, -1), want)


def test_single_message_is_completed_from_one_cluster():
    net = CliqueNetwork(5, 10).store([[1, 2, 3, 4, 5]])
    assert net.complete([[1, -1, -1, -1, -1]]).tolist() == [[1, 2, 3, 4, 5]]


def test_density_and_one_iteration_error_match_gripon_berrou_2011():
    """Gripon & Berrou (2011): d = 1 - (1 - 1/l^2)^M within 0.005 and, with 4 of 8 clusters
    erased, the one-iteration error within 0.04 of 1 - (1 - d^4)^(4 (l - 1)) wherever the
    formula is in [0.02, 0.98]; reference point d(15000) = 0.2046, P_e = 0.833."""
    assert theory.clique_density(15000, C, L) == pytest.approx(0.2046, abs=1e-4)
    assert theory.one_iteration_error(15000, C, L, 4) == pytest.approx(0.833, abs=1e-3)
    rng = np.random.default_rng(10)
    all_msgs = noise.random_messages(25000, C, L, rng)
    checked = 0
    for M in (5000, 7500, 10000, 12500, 15000, 17500, 20000, 25000):
        msgs = all_msgs[:M]
        net = CliqueNetwork(C, L).store(msgs)
        assert abs(net.density() - theory.clique_density(M, C, L)) < 0.005
        pe = theory.one_iteration_error(M, C, L, 4)
        if 0.02 <= pe <= 0.98:
            truth, cues = _erased_cues(msgs, 40000, 4, rng)
            measured = net.error_rate(truth, cues, iterations=1)
            assert abs(measured - pe) < 0.04, (M, measured, pe)
            # the binomial-conditioned form removes most of the classic formula's bias
            cond = theory.one_iteration_error_conditional(M, C, L, 4)[0]
            assert abs(measured - cond) < 0.02, (M, measured, cond)
            checked += 1
    assert checked == 6


def test_iterations_and_sum_of_max():
    """Iterating brings the error at M = 15000 far below the one-iteration 0.83; sum-of-max is
    no worse than sum-of-sum at M >= 20000 (same cues)."""
    rng = np.random.default_rng(11)
    all_msgs = noise.random_messages(25000, C, L, rng)
    for M in (15000, 20000, 25000):
        net = CliqueNetwork(C, L, iterations=4).store(all_msgs[:M])
        truth, cues = _erased_cues(all_msgs[:M], 4000, 4, rng)
        sos = net.error_rate(truth, cues, rule="sos")
        som = net.error_rate(truth, cues, rule="som")
        if M == 15000:
            one = net.error_rate(truth, cues, iterations=1)
            assert one > 0.75 and sos < 0.1 and som < 0.1
        else:
            assert som <= sos


@pytest.mark.parametrize("kwargs,field", [
    (dict(c=1, l=4), "c"), (dict(c=4, l=1), "l"), (dict(c=4, l=4, gamma=-1), "gamma"),
    (dict(c=4, l=4, rule="max"), "rule"), (dict(c=4, l=4, iterations=0), "iterations"),
])
def test_bad_parameters(kwargs, field):
    with pytest.raises(BiosimError, match=f"^{field}"):
        CliqueNetwork(**kwargs)


def test_bad_messages():
    net = CliqueNetwork(4, 8)
    with pytest.raises(BiosimError, match=r"messages\[1, 2\].*\[0, 7\].*got 8"):
        net.store([[0, 1, 2, 3], [0, 1, 8, 3]])
    with pytest.raises(BiosimError, match=r"messages.*shape \(M, 4\)"):
        net.store([[0, 1, 2]])
    with pytest.raises(BiosimError, match=r"messages\[0, 0\]"):
        net.store([[-1, 1, 2, 3]])
    with pytest.raises(BiosimError, match=r"cue\[0, 1\]"):
        net.retrieve([[0, -2, 1, 1]])
    with pytest.raises(BiosimError, match=r"^gamma"):
        net.retrieve([[0, -1, 1, 1]], gamma=-0.5)
    with pytest.raises(BiosimError, match=r"^cue"):
        net.retrieve(np.zeros((2, 4, 7), bool))
