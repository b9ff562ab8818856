"""Place-recognition metrics over a similarity matrix and a boolean ground truth.

Conventions used throughout: ``similarity`` is reference x query (rows = reference places,
columns = queries), higher = more similar (pass ``-distance`` for a distance matrix);
``ground_truth`` is a boolean matrix of the same shape, True where reference ``i`` shows the
place of query ``j`` (within the dataset's tolerance).

Precision-recall: every query is matched to its best reference; a threshold on that best score
accepts (>= threshold) or rejects the match. Thresholds run over every distinct best score, and
the curve starts at (recall 0, precision 1), as in both reference codes. Accepted correct = TP,
accepted wrong = FP. Two conventions differ in how *rejected* queries count:

- ``"vpr_tutorial"`` (Schubert et al., VPR_Tutorial; VPRTempo): recall = TP / (number of
  queries that have a true match). A rejected query is just not a TP; at the loosest threshold
  recall = precision = Recall@1.
- ``"vprsnn"`` (Hussaini et al., VPRSNN ``get_precision_recall_f1_score``): every rejected query
  that has a true match is a false negative, recall = TP / (TP + FN). Accepted wrong matches are
  in neither TP nor FN, so the loosest threshold gives recall 1 and precision = Recall@1
  (the released code prints ``2P / (P + 1)``, an F1, as "precision at 100% recall"; here
  :func:`precision_at_100_recall` returns the precision itself).
"""
from __future__ import annotations

import numpy as np

from biosim.core.validation import array, choice, fail, integer

__all__ = ["CONVENTIONS", "recall_at_k", "chance_recall", "precision_recall_curve", "auc_pr",
           "recall_at_100_precision", "precision_at_100_recall", "summary"]

CONVENTIONS = ("vpr_tutorial", "vprsnn")


def _check(similarity, ground_truth) -> tuple[np.ndarray, np.ndarray]:
    s = array("similarity", similarity, ndim=2)
    if s.size == 0:
        fail("similarity", "a non-empty reference x query matrix", f"shape {s.shape}")
    g = np.asarray(ground_truth)
    if g.shape != s.shape:
        fail("ground_truth", f"a boolean matrix of shape {s.shape} (reference x query)",
             f"shape {g.shape}")
    if g.dtype != bool:
        if not np.isin(g, (0, 1)).all():
            fail("ground_truth", "a boolean matrix (or 0/1)", "other values")
        g = g.astype(bool)
    return s, g


def recall_at_k(similarity, ground_truth, k=1):
    """Recall@K: the fraction of queries with a true match that have one among their ``k`` most
    similar references. ``k`` is an int (returns a float) or a sequence of ints (returns an
    array). Queries without any true match are left out. Ties: the reference that comes first
    wins (stable sort)."""
    s, g = _check(similarity, ground_truth)
    ks = np.atleast_1d(k)
    ks = [integer("k", kk, low=1) for kk in ks]
    has = g.any(axis=0)
    if not has.any():
        fail("ground_truth", "at least one query with a true match", "none")
    order = np.argsort(-s, axis=0, kind="stable")  # best first, per query
    hit = np.take_along_axis(g, order, axis=0)[:, has]  # (n_ref, n_q_with_match)
    first = np.where(hit.any(axis=0), hit.argmax(axis=0), s.shape[0])  # rank of first match
    out = np.array([(first < kk).mean() for kk in ks])
    return float(out[0]) if np.ndim(k) == 0 else out


def chance_recall(ground_truth, k=1):
    """Recall@K of a recogniser that ranks the references at random: a query with m true
    matches among n references finds one in its top K with probability
    ``1 - C(n - m, K) / C(n, K)``; averaged over the queries with a match, as
    :func:`recall_at_k` (1/n at K = 1 for one match per query)."""
    g = np.asarray(ground_truth, bool)
    if g.ndim != 2:
        fail("ground_truth", "a boolean reference x query matrix", f"shape {g.shape}")
    n, m = g.shape[0], g.sum(axis=0)
    m = m[m > 0]
    if m.size == 0:
        fail("ground_truth", "at least one query with a true match", "none")
    out = []
    for kk in np.atleast_1d(k):
        kk = min(integer("k", kk, low=1), n)
        miss = np.ones(m.size)  # prod_{i<K} (n - m - i) / (n - i)
        for i in range(kk):
            miss *= np.clip(n - m - i, 0, None) / (n - i)
        out.append(float(np.mean(1.0 - miss)))
    return out[0] if np.ndim(k) == 0 else np.array(out)


def precision_recall_curve(similarity, ground_truth, convention: str = "vpr_tutorial"):
    """Precision and recall of the best match per query under a sweeping threshold.

    Returns ``(precision, recall, thresholds)``: arrays of length T + 1 where the first point is
    (precision 1, recall 0, threshold +inf) and the others accept matches with best score >=
    ``thresholds[t]``, thresholds descending. See the module docstring for ``convention``.
    """
    s, g = _check(similarity, ground_truth)
    choice("convention", convention, CONVENTIONS)
    q = np.arange(s.shape[1])
    best = np.argmax(s, axis=0)
    score = s[best, q]
    correct = g[best, q]
    has = g.any(axis=0)
    thresholds = np.unique(score)[::-1]
    # counts of accepted (score >= thr) per threshold via a sort
    order = np.argsort(-score, kind="stable")
    n_acc = np.searchsorted(-score[order], -thresholds, side="right")
    tp = np.concatenate(([0], np.cumsum(correct[order])))[n_acc]
    fp = n_acc - tp
    if convention == "vpr_tutorial":
        denom = np.full(tp.shape, has.sum())
    else:
        acc_has = np.concatenate(([0], np.cumsum(has[order])))[n_acc]
        fn = has.sum() - acc_has  # rejected queries that have a true match
        denom = tp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(n_acc > 0, tp / np.maximum(tp + fp, 1), 1.0)
        recall = np.where(denom > 0, tp / np.maximum(denom, 1), 0.0)
    return (np.concatenate(([1.0], precision)), np.concatenate(([0.0], recall)),
            np.concatenate(([np.inf], thresholds)))


def auc_pr(similarity, ground_truth, convention: str = "vpr_tutorial") -> float:
    """Area under the precision-recall curve (trapezoids over recall, as ``np.trapz(P, R)`` in
    VPR_Tutorial and ``sklearn.metrics.auc`` in VPRSNN)."""
    p, r, _ = precision_recall_curve(similarity, ground_truth, convention)
    return float(np.sum(np.diff(r) * (p[1:] + p[:-1]) / 2.0))


def recall_at_100_precision(similarity, ground_truth, convention: str = "vpr_tutorial") -> float:
    """The largest recall reached with precision 1 (0 when even the first accepted match is
    wrong)."""
    p, r, _ = precision_recall_curve(similarity, ground_truth, convention)
    return float(r[p >= 1.0].max())


def precision_at_100_recall(similarity, ground_truth, convention: str = "vpr_tutorial") -> float:
    """The largest precision at recall 1 (0 when recall never reaches 1). Under ``"vprsnn"``
    this is the precision with every match accepted, i.e. the fraction of correct best
    matches; under ``"vpr_tutorial"`` recall 1 needs every query right, so it is 1 or 0."""
    p, r, _ = precision_recall_curve(similarity, ground_truth, convention)
    full = r >= 1.0 - 1e-12
    return float(p[full].max()) if full.any() else 0.0


def summary(similarity, ground_truth, ks=(1, 5, 10), convention: str = "vpr_tutorial") -> dict:
    """The numbers a VPR table reports: ``{"R@1": ..., "R@5": ..., "AUC": ..., "R@100P": ...,
    "P@100R": ...}`` (K larger than the number of references is clipped to it)."""
    s, g = _check(similarity, ground_truth)
    ks = [min(integer("ks", k, low=1), s.shape[0]) for k in ks]
    out = {f"R@{k}": float(v) for k, v in zip(ks, recall_at_k(s, g, ks))}
    out["AUC"] = auc_pr(s, g, convention)
    out["R@100P"] = recall_at_100_precision(s, g, convention)
    out["P@100R"] = precision_at_100_recall(s, g, convention)
    return out
