"""Assignments on hand-built spike-count matrices.

Reference: the weighted neuronal assignment of Hussaini, Milford & Fischer (RA-L 2022),
formulas as in their released code (references.md section 6), and Diehl & Cook (2015) for
the standard assignment. Every expected number below is worked out by hand in the comments.
"""
import numpy as np
import pytest

from biosim.core.validation import BiosimError
from biosim.vpr.assignment import (hyperactive_neurons, place_scores, probability_based,
                                   remove_hyperactive, standard_assignment, standard_scores,
                                   weighted_scores)

# neuron 0: place 0 only; neuron 1: place 1 (share 0.8) and 2 (0.2);
# neuron 2: mostly place 2 (0.9), 0.05 each for 0 and 1; neuron 3: silent in training.
S = np.array([[10, 0, 0], [0, 8, 2], [1, 1, 18], [0, 0, 0]], float)
Q = np.array([4, 6, 0, 5], float)


def test_weighted_formula_by_hand():
    # gamma R = 1.5: neuron 0 (L=1) keeps q, neurons 1 (L=2) and 2 (L=3) are divided.
    # q' = [4, 3, 0, 5(silent neuron, never relevant)]
    # N_0 = {0}: s_0 = 1 * 4 * 1 = 4;  N_1 = {1}: s_1 = 1 * 3 * 0.8 = 2.4
    # N_2 = {1, 2}: sum q'' = 3 * 0.2 + 0 * 0.9 = 0.6, rho_2 = 2 / (2 + 18) = 0.1 -> 0.06
    s = weighted_scores(S, Q, gamma=0.5)
    np.testing.assert_allclose(s, [4.0, 2.4, 0.06], rtol=1e-12)


def test_relevance_filter_admits_low_share_neurons_when_off():
    # relevance 0: neuron 2 (share 0.05, silent for the query) joins N_0 -> rho_0 = 10/11
    s = weighted_scores(S, Q, gamma=0.5, relevance=0.0)
    np.testing.assert_allclose(s[0], 4.0 * 10 / 11, rtol=1e-12)


def test_involvement_regularisation_divides_by_places():
    # gamma R = 2.4 (R = 3 top places): only neuron 2 (L = 3) is divided; it is silent,
    # so s_1 = 6 * 0.8 = 4.8, s_2 = 0.1 * 6 * 0.2
    s = weighted_scores(S, Q, gamma=0.8)
    np.testing.assert_allclose(s, [4.0, 4.8, 0.12], rtol=1e-12)
    # gamma R = 2 exactly: L = 2 >= 2 is divided, as in the released code
    np.testing.assert_allclose(weighted_scores(S, Q, gamma=2 / 3), [4.0, 2.4, 0.06])
    # the default gamma = 0.02 (gamma R = 0.06) divides even neuron 0 by L = 1: no change
    np.testing.assert_allclose(weighted_scores(S, Q), [4.0, 2.4, 0.06], rtol=1e-12)


def test_gamma_rules_differ_exactly_at_l_equal_gamma_r():
    """RA-L 2022 (``gamma_rule="ral"``) keeps a neuron's raw response when L_i <= gamma R; the
    later released code divides when L_i >= gamma R. At gamma R = 2 neuron 1 (L = 2) is the
    only one where they differ: released q'_1 = 6 / 2 = 3 -> [4, 2.4, 0.06] (above); RA-L
    q'_1 = 6 -> s_1 = 6 * 0.8 = 4.8, s_2 = rho_2 (0.1) * 6 * 0.2 = 0.12."""
    np.testing.assert_allclose(weighted_scores(S, Q, gamma=2 / 3, gamma_rule="released"),
                               [4.0, 2.4, 0.06], rtol=1e-12)
    np.testing.assert_allclose(weighted_scores(S, Q, gamma=2 / 3, gamma_rule="ral"),
                               [4.0, 4.8, 0.12], rtol=1e-12)
    # away from equality (gamma R = 1.5 and 2.4) the two rules agree
    for gamma in (0.5, 0.8):
        np.testing.assert_array_equal(weighted_scores(S, Q, gamma=gamma, gamma_rule="ral"),
                                      weighted_scores(S, Q, gamma=gamma))


def test_silent_relevant_neuron_penalty():
    # neuron 2 answers with 1 spike: rho_2 = 1, s_2 = 3 * 0.2 + (1/3) * 0.9 = 0.9
    q = Q.copy()
    q[2] = 1.0
    np.testing.assert_allclose(weighted_scores(S, q, gamma=0.5)[2], 0.9, rtol=1e-12)


def test_places_that_are_nobodys_top_score_zero():
    # neuron 0 fires 8 / 2 for places 0 / 1: share 0.2 > 0.1 but place 1 is not a top place
    s = weighted_scores([[8.0, 2.0]], [5.0], gamma=3.0)   # gamma R = 3 > L = 2
    np.testing.assert_allclose(s, [5.0 * 0.8, 0.0])


def test_weighted_beats_standard_on_an_ambiguous_neuron():
    # neuron A fires equally for places 0..4; neuron B only for place 3. The query (place 3)
    # drives A strongly and B weakly. Standard: A is assigned to place 0 (first of the tie)
    # and wins. Weighted: A's response is divided by L = 5 -> q'_A = 2; s_0 = 2 * 0.2 = 0.4,
    # s_3 = 2 * 0.2 + 2 * 1 = 2.4: place 3 wins.
    S2 = np.array([[20, 20, 20, 20, 20], [0, 0, 0, 30, 0]], float)
    q = np.array([10.0, 2.0])
    assert np.argmax(standard_scores(S2, q)) == 0
    w = weighted_scores(S2, q)
    np.testing.assert_allclose(w, [0.4, 0, 0, 2.4, 0], rtol=1e-12)


def test_standard_assignment_and_scores():
    np.testing.assert_array_equal(standard_assignment(S), [0, 1, 2, -1])
    np.testing.assert_allclose(standard_scores(S, Q), [4.0, 6.0, 0.0])
    # 10 presentations of place 1: neuron 1's rate for place 1 is 0.8 < 2 -> place 2
    np.testing.assert_array_equal(standard_assignment(S, presentations=[1, 10, 1]),
                                  [0, 2, 2, -1])
    # place 2 now has neurons 1 and 2: mean of q = (6 + 0) / 2
    np.testing.assert_allclose(standard_scores(S, Q, presentations=[1, 10, 1]), [4, 0, 3])


def test_matrix_queries_match_columns():
    rng = np.random.default_rng(0)
    S3 = rng.poisson(2.0, (12, 5)).astype(float)
    Qm = rng.poisson(1.0, (12, 7)).astype(float)
    for method in ("weighted", "standard"):
        full = place_scores(S3, Qm, method)
        assert full.shape == (5, 7)
        for k in range(7):
            np.testing.assert_allclose(full[:, k], place_scores(S3, Qm[:, k], method))


def test_probability_based():
    # column [4, 2.4, 0.06]: min-max -> [1, 2.34/3.94, 0] -> / sum
    p = probability_based(weighted_scores(S, Q, gamma=0.5)[:, None])[:, 0]
    x = np.array([1.0, 2.34 / 3.94, 0.0])
    np.testing.assert_allclose(p, x / x.sum(), rtol=1e-12)
    np.testing.assert_allclose(probability_based(np.ones((4, 2))), 0.25)


def test_hyperactive_removal():
    # L = [1, 2, 3, 0]: tau = 3 silences neuron 2 only
    np.testing.assert_array_equal(hyperactive_neurons(S, 3), [False, False, True, False])
    S_clean = remove_hyperactive(S, 3)
    assert S_clean[2].sum() == 0 and S[2].sum() == 20
    # without neuron 2, place 2 has no top neuron left -> 0; neuron 1 only scores place 1
    np.testing.assert_allclose(weighted_scores(S_clean, Q, gamma=0.5), [4.0, 2.4, 0.0])


@pytest.mark.parametrize("bad, field", [
    (dict(S=[[1, -1]], q=[1]), "S"),
    (dict(S=[[1, 2]], q=[1, 2]), "q"),
    (dict(S=[[1, 2]], q=[1], gamma=-1), "gamma"),
    (dict(S=np.zeros((0, 2)), q=[]), "S"),
    (dict(S=[[1, 2]], q=[1], gamma_rule="paper"), "gamma_rule"),
])
def test_bad_input(bad, field):
    with pytest.raises(BiosimError, match=field):
        weighted_scores(**bad)
    with pytest.raises(BiosimError, match="method"):
        place_scores(S, Q, "nearest")
