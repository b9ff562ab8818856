"""Metrics on hand-built matrices with known Recall@K, PR points and AUC."""
import numpy as np
import pytest

from biosim.core.validation import BiosimError
from biosim.vpr.baselines import sad_similarity, sequence_match
from biosim.vpr.metrics import (auc_pr, precision_at_100_recall, precision_recall_curve,
                                recall_at_100_precision, recall_at_k)

# 4 references x 4 queries, ground truth on the diagonal.
# query 0: best ref 0 (0.9, right); query 1: best ref 1 (0.8, right);
# query 2: best ref 1 (0.7, wrong; true ref 2 ranked 2nd); query 3: best ref 3 (0.6, right).
S = np.array([[0.9, 0.1, 0.2, 0.0],
              [0.2, 0.8, 0.7, 0.1],
              [0.1, 0.3, 0.5, 0.2],
              [0.0, 0.2, 0.1, 0.6]])
G = np.eye(4, dtype=bool)


def test_recall_at_k_by_hand():
    assert recall_at_k(S, G, 1) == pytest.approx(0.75)
    np.testing.assert_allclose(recall_at_k(S, G, [1, 2, 4]), [0.75, 1.0, 1.0])
    # a query with no true match is left out
    g = G.copy()
    g[2, 2] = False
    assert recall_at_k(S, g, 1) == pytest.approx(1.0)


def test_pr_curve_vpr_tutorial_by_hand():
    """Thresholds 0.9, 0.8, 0.7, 0.6 on best scores; recall = TP / 4 queries with a match."""
    p, r, t = precision_recall_curve(S, G, "vpr_tutorial")
    np.testing.assert_allclose(t, [np.inf, 0.9, 0.8, 0.7, 0.6])
    np.testing.assert_allclose(p, [1, 1, 1, 2 / 3, 3 / 4])
    np.testing.assert_allclose(r, [0, 1 / 4, 2 / 4, 2 / 4, 3 / 4])
    # trapezoids: 0.25 * 1 + 0.25 * 1 + 0 + 0.25 * (2/3 + 3/4) / 2
    assert auc_pr(S, G) == pytest.approx(0.5 + 0.25 * (2 / 3 + 3 / 4) / 2)
    assert recall_at_100_precision(S, G) == pytest.approx(0.5)
    assert precision_at_100_recall(S, G) == 0.0  # never reaches recall 1


def test_pr_curve_vprsnn_counts_rejected_queries_as_false_negatives():
    """VPRSNN: recall = TP / (TP + rejected); all accepted -> recall 1, precision = R@1."""
    p, r, _ = precision_recall_curve(S, G, "vprsnn")
    np.testing.assert_allclose(p, [1, 1, 1, 2 / 3, 3 / 4])
    # thresholds 0.9, 0.8, 0.7, 0.6: FN = rejected queries 3, 2, 1, 0
    np.testing.assert_allclose(r, [0, 1 / 4, 2 / 4, 2 / 3, 1.0])
    # same matrix, different documented values under the two conventions
    assert precision_at_100_recall(S, G, "vprsnn") == pytest.approx(0.75)  # vs 0 above
    want = 0.5 + (1 / 6) * (1 + 2 / 3) / 2 + (1 / 3) * (2 / 3 + 3 / 4) / 2
    assert auc_pr(S, G, "vprsnn") == pytest.approx(want)
    assert recall_at_100_precision(S, G, "vprsnn") == pytest.approx(0.5)


def test_pr_against_sklearn_on_accepted_matches():
    """With every query having a match, VPR_Tutorial precision equals sklearn's precision of
    'best match is correct' labels ranked by score (a peer implementation)."""
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    s = rng.random((30, 40))
    g = np.zeros((30, 40), bool)
    g[rng.integers(0, 30, 40), np.arange(40)] = True
    s[g] += rng.random(40) * 0.8
    best = s.argmax(0)
    correct = g[best, np.arange(40)]
    p, r, t = precision_recall_curve(s, g)
    sp, sr, st = skm.precision_recall_curve(correct, s.max(0))
    # sklearn recall is TP / (correct best matches); ours is TP / (queries with a match)
    for pi, ri, ti in zip(p[1:], r[1:], t[1:]):
        k = np.searchsorted(st, ti)
        assert pi == pytest.approx(sp[k])
        assert ri == pytest.approx(sr[k] * correct.sum() / 40)


def test_sad_and_sequence_matching():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (6, 4, 5)).astype(np.uint8)
    b = rng.integers(0, 256, (3, 4, 5)).astype(np.uint8)
    want = -np.abs(a[:, None].astype(int) - b[None].astype(int)).mean(axis=(2, 3))
    np.testing.assert_allclose(sad_similarity(a, b), want)
    s = rng.random((5, 6))
    out = sequence_match(s, 3)
    assert out[4, 5] == pytest.approx(s[4, 5] + s[3, 4] + s[2, 3])
    assert out[1, 3] == pytest.approx(3 * (s[1, 3] + s[0, 2]) / 2)
    np.testing.assert_allclose(sequence_match(s, 1), s)


def test_bad_input():
    with pytest.raises(BiosimError, match="ground_truth"):
        recall_at_k(S, np.eye(3, dtype=bool))
    with pytest.raises(BiosimError, match="convention"):
        precision_recall_curve(S, G, "f1")
    with pytest.raises(BiosimError, match="k"):
        recall_at_k(S, G, 0)
    with pytest.raises(BiosimError, match="query_images"):
        sad_similarity(np.zeros((2, 4, 4), np.uint8), np.zeros((2, 4, 5), np.uint8))
    with pytest.raises(BiosimError, match="length"):
        sequence_match(S, 0)


def test_plots_draw():
    from biosim.plot.vpr import frames, pr_curve, similarity_matrix

    p, r, _ = precision_recall_curve(S, G)
    ax = pr_curve(p, r, label="SAD")
    assert len(ax.lines) == 1
    ax = similarity_matrix(S, G)
    assert len(ax.lines) == 2 and len(ax.lines[1].get_xdata()) == 1  # one wrong best match
    ax = frames({"a": np.zeros((3, 4, 5), np.uint8), "b": np.ones((3, 4, 5), np.uint8)}, [0, 2])
    assert ax.images[0].get_array().shape == (8, 10)


def test_summary_collects_the_table_numbers():
    from biosim.vpr.metrics import summary

    out = summary(S, G, ks=(1, 2, 10))
    assert out["R@1"] == pytest.approx(0.75) and out["R@2"] == 1.0 and out["R@4"] == 1.0
    assert out["R@100P"] == pytest.approx(0.5) and out["P@100R"] == 0.0
    assert summary(S, G, convention="vprsnn")["P@100R"] == pytest.approx(0.75)
