"""Neuronal assignments: from training spike counts to place scores.

``S`` is a spike-count matrix of shape (n_neurons, n_places): ``S[i, l]`` is the number
of spikes neuron ``i`` fired over the (last) training presentations of place ``l``: in
:class:`biosim.vpr.recognizer.SpikingPlaceRecognizer` either a frozen labelling pass after
training (``assignment_data="labelling"``, the default) or, as the RA-L 2022 code, the
training presentations of the last 3 epochs (``assignment_data="training"``).
``q`` holds query spike counts, shape (n_neurons,) or (n_neurons, n_queries). Every score
function returns a similarity of shape (n_places,) or (n_places, n_queries): reference
places x queries, the layout of :func:`biosim.vpr.metrics.recall_at_k`.

* :func:`standard_assignment` / :func:`standard_scores`: Diehl & Cook (2015): each neuron
  is assigned to the place it fired most for (rate per presentation); a place scores the
  mean query response of its assigned neurons.
* :func:`weighted_scores`: the weighted neuronal assignment of Hussaini, Milford & Fischer
  (RA-L 2022), as in their released code (``snn_model_evaluation.py``; references.md
  section 6): a relevance filter (``S[i, l] / T_i > relevance``), involvement
  regularisation (the response of a neuron that fires for ``L_i >= gamma * R`` places is
  divided by ``L_i``, R being the number of places that are some neuron's top place; the
  RA-L rule ``gamma_rule="ral"`` divides only when ``L_i > gamma * R``),
  weighting by the neuron's share of its response for the place, and a penalty ``rho_l``
  for relevant neurons that stay silent for the query.
* :func:`probability_based`: VPRSNN's "probability-based" scores: each query's scores
  min-max normalised, then divided by their sum.
* :func:`hyperactive_neurons` / :func:`remove_hyperactive`: the neurons that fire for at
  least ``tau`` reference places (modular SNN, ICRA 2023) and a copy of ``S`` with them
  silenced.
"""
from __future__ import annotations

import numpy as np

from biosim.core.validation import array, choice, fail, integer, number


def _counts(S, field="S") -> np.ndarray:
    S = array(field, S, ndim=2, low=0.0)
    if S.shape[0] == 0 or S.shape[1] == 0:
        fail(field, "a non-empty (n_neurons, n_places) matrix", f"shape {S.shape}")
    return S


def _query(q, n_neurons) -> tuple[np.ndarray, bool]:
    q = array("q", q, low=0.0)
    single = q.ndim == 1
    if single:
        q = q[:, None]
    if q.ndim != 2 or q.shape[0] != n_neurons:
        fail("q", f"spike counts of shape ({n_neurons},) or ({n_neurons}, n_queries)",
             f"shape {q.shape}")
    return q, single


def _out(scores, single):
    return scores[:, 0] if single else scores


def standard_assignment(S, presentations=None) -> np.ndarray:
    """Diehl & Cook assignment: ``a_i = argmax_l S[i, l] / n_l``; -1 for silent neurons.

    ``presentations`` (n_places,) is ``n_l``, the number of training presentations of
    each place (default: equal, which leaves the argmax unchanged). Ties go to the first
    place, as in ``np.argmax``.
    """
    S = _counts(S)
    if presentations is None:
        n = np.ones(S.shape[1])
    else:
        n = array("presentations", presentations, shape=(S.shape[1],), low=0.0)
        if np.any(n <= 0):
            fail("presentations", "counts > 0 for every place", n.min())
    rate = S / n
    a = np.argmax(rate, axis=1)
    a[rate.max(axis=1) <= 0] = -1
    return a


def standard_scores(S, q, presentations=None) -> np.ndarray:
    """Mean query response of the neurons assigned to each place (0 where none is)."""
    S = _counts(S)
    q, single = _query(q, S.shape[0])
    a = standard_assignment(S, presentations)
    n_places = S.shape[1]
    onehot = np.zeros((S.shape[0], n_places))
    used = a >= 0
    onehot[np.flatnonzero(used), a[used]] = 1.0
    count = onehot.sum(axis=0)
    scores = onehot.T @ q
    scores[count > 0] /= count[count > 0, None]
    return _out(scores, single)


GAMMA_RULES = ("released", "ral")


def weighted_scores(S, q, *, gamma: float = 0.02, relevance: float = 0.1,
                    gamma_rule: str = "released") -> np.ndarray:
    """Weighted neuronal assignment scores (RA-L 2022).

    With ``T_i = sum_l S[i, l]``, ``L_i = #{l : S[i, l] > 0}``, for each place ``l`` that
    is the top place (argmax) of at least one non-silent neuron (R such places):
    ``N_l = {i : S[i, l] / T_i > relevance}``; the involvement regularisation ``q'_i``
    (``gamma_rule``):

    - ``"released"`` (default): ``q'_i = q_i / L_i`` if ``L_i >= gamma R`` else ``q_i``,
      as the later released code (QVPR/VPRSNN ``snn_model_evaluation.py`` of the modular
      and ensemble papers, ICRA 2023 / T-RO 2024);
    - ``"ral"``: ``q'_i = q_i`` if ``L_i <= gamma R`` else ``q_i / L_i``, as the RA-L 2022
      paper and its code: the two differ only for the neurons with ``L_i = gamma R``;

    ``rho_l = sum_{i in N_l, q_i > 0} S[i, l] / sum_{i in N_l} S[i, l]``;
    ``s_l = rho_l * sum_{i in N_l} q'_i S[i, l] / T_i``. Other places score 0.
    """
    S = _counts(S)
    gamma = number("gamma", gamma, low=0.0)
    choice("gamma_rule", gamma_rule, GAMMA_RULES)
    relevance = number("relevance", relevance, low=0.0, high=1.0, high_open=True)
    q, single = _query(q, S.shape[0])
    T = S.sum(axis=1)
    active = T > 0
    share = np.zeros_like(S)
    share[active] = S[active] / T[active, None]              # S[i, l] / T_i
    L = (S > 0).sum(axis=1)
    top = np.zeros(S.shape[1], dtype=bool)
    top[np.argmax(S[active], axis=1)] = True
    R = top.sum()
    divided = L >= gamma * R if gamma_rule == "released" else L > gamma * R
    q_reg = np.where(divided[:, None], q / np.maximum(L, 1)[:, None], q)           # q'

    member = (share > relevance) & top[None, :]                                   # i in N_l
    scores = (member * share).T @ q_reg                                           # sum q''
    S_in = S * member
    denom = S_in.sum(axis=0)
    rho = np.zeros((S.shape[1], q.shape[1]))
    ok = denom > 0
    rho[ok] = (S_in.T @ (q > 0).astype(float))[ok] / denom[ok, None]
    return _out(rho * scores, single)


def probability_based(similarity) -> np.ndarray:
    """VPRSNN's probability-based scores: per query (column), ``(s - min) / (max - min)``
    divided by its sum (a column of equal scores becomes uniform)."""
    s = array("similarity", similarity, ndim=2)
    lo, hi = s.min(axis=0), s.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    p = (s - lo) / span
    total = p.sum(axis=0)
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / s.shape[0])


def hyperactive_neurons(S, tau: int) -> np.ndarray:
    """Boolean mask of neurons that fire for at least ``tau`` reference places."""
    S = _counts(S)
    tau = integer("tau", tau, low=1)
    return (S > 0).sum(axis=1) >= tau


def remove_hyperactive(S, tau: int) -> np.ndarray:
    """A copy of ``S`` with the rows of hyperactive neurons set to 0 (they never vote)."""
    S = _counts(S).copy()
    S[hyperactive_neurons(S, tau)] = 0.0
    return S


SCORES = {"weighted": weighted_scores, "standard": standard_scores}


def place_scores(S, q, method: str = "weighted", **kwargs) -> np.ndarray:
    """Scores by name: ``"weighted"`` (default) or ``"standard"``."""
    if method not in SCORES:
        fail("method", "one of " + ", ".join(repr(m) for m in SCORES), method)
    return SCORES[method](S, q, **kwargs)
