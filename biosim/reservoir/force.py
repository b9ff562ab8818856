"""FORCE training (Sussillo & Abbott 2009; Nicola & Clopath 2017): recursive least squares
on the readout of a spiking reservoir, with optional feedback of the output.

Every ``every`` steps while training (r: the features, y = W r, err = y - target)::

    k = P r / (lambda + r^T P r),   P <- (P - k r^T P) / lambda,   W <- W - err k^T

from P(0) = I / alpha. ``lambda`` = 1 (no forgetting) averages over every sample seen, so
after a change of the target it adapts as slowly as it was trained long; ``reset_P`` or
lambda < 1 restores fast adaptation. Feedback adds Q x (U(-1, 1) per neuron) x y to the
reservoir current (Nicola & Clopath's E z term).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from biosim.core import validation as check
from biosim.core.estimator import Estimator
from biosim.core.plasticity import Rule
from biosim.core.random import make_rng
from biosim.reservoir.reservoir import step as reservoir_step


class Rls(NamedTuple):
    """FORCE's arrays in the fused run: readout W (K, n), P (n, n), feedback weights fb
    (K, n), forgetting factor lam, an RLS step every ``every`` steps (0: none) counted from
    ``offset`` steps before the first, and the output y (K,) of the step before."""

    W: np.ndarray
    P: np.ndarray
    fb: np.ndarray
    lam: float
    every: int
    offset: int
    y: np.ndarray


@njit(cache=True)
def rls_step(W, P, r, err, lam, Pr):
    """One RLS update from features r (n,) and errors err = y - target (K,), in place:
    Pr = P r, c = 1 / (lam + r^T P r), P <- (P - c Pr Pr^T) / lam, W <- W - c err Pr^T
    (P symmetric, so k r^T P = c Pr Pr^T). ``Pr`` is a work buffer of length n."""
    n = r.size
    rPr = 0.0
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += P[i, j] * r[j]
        Pr[i] = acc
        rPr += r[i] * acc
    c = 1.0 / (lam + rPr)
    for i in range(n):
        ci = c * Pr[i]
        for j in range(n):
            P[i, j] = (P[i, j] - ci * Pr[j]) / lam
    for q in range(W.shape[0]):
        for j in range(n):
            W[q, j] -= err[q] * c * Pr[j]


@njit(cache=True)
def linear_readout(W, r, y):
    """y = W r for W (K, n), summed in the order of j (the outputs of every FORCE path)."""
    for q in range(W.shape[0]):
        acc = 0.0
        for j in range(r.size):
            acc += W[q, j] * r[j]
        y[q] = acc


def rls_step_numpy(W, P, r, err, lam):
    """NumPy twin of :func:`rls_step`; returns the new (W, P)."""
    Pr = P @ r
    c = 1.0 / (lam + r @ Pr)
    return W - c * np.outer(err, Pr), (P - c * np.outer(Pr, Pr)) / lam


@njit(cache=True)
def run_force(k, I, rls, targets, Y):
    """Fused FORCE run on the reservoir :class:`~biosim.reservoir.reservoir.Kernel` ``k``:
    per step t, I + fb^T y(t - 1) drives the reservoir, y(t) = W r(t), and where
    (offset + t) % every == 0 one :func:`rls_step` from err = y(t) - target(t). Records y
    in Y (steps, K); leaves the last y in ``rls.y``. ``Network.run`` runs a reservoir with
    a FORCE readout (:meth:`FORCE.network`) in this kernel."""
    r = k.state.r
    n = r.size
    W, fb, y = rls.W, rls.fb, rls.y
    K = W.shape[0]
    cur, drive, ext = np.empty(n), np.empty(n), np.empty(n)
    err = np.empty(K)
    Pr = np.empty(n)
    for t in range(I.shape[0]):
        for j in range(n):
            acc = I[t, j]
            for q in range(K):
                acc += fb[q, j] * y[q]
            ext[j] = acc
        reservoir_step(k, ext, cur, drive)
        linear_readout(W, r, y)
        if rls.every > 0 and (rls.offset + t) % rls.every == 0:
            for q in range(K):
                err[q] = y[q] - targets[t, q]
            rls_step(W, rls.P, r, err, rls.lam, Pr)
        for q in range(K):
            Y[t, q] = y[q]


class FORCE(Estimator):
    """RLS readout with optional output feedback.

    Parameters
    ----------
    n_outputs : int
    alpha : float
        P(0) = I / alpha (Nicola & Clopath: P(0) = 2 I, alpha = 0.5).
    every : int
        Steps between RLS updates (Nicola & Clopath: 20 steps of 0.04 ms).
    lam : float
        Forgetting factor in (0, 1] (1: none).
    feedback : float
        Q, the gain of the output fed back into the reservoir (0: none).
    seed : int, SeedSequence or Generator
        For the feedback weights (drawn by :meth:`init`, at the first run).

    Learned: ``W_`` (K, n), ``P_`` (n, n), the feedback weights ``fb_`` (K, n); ``save``/
    ``load`` as every :class:`~biosim.core.estimator.Estimator`.
    """

    def __init__(self, n_outputs=1, *, alpha=0.5, every=20, lam=1.0, feedback=0.0, seed=None):
        self.n_outputs = check.integer("n_outputs", n_outputs, low=1)
        self.alpha = check.positive("alpha", alpha)
        self.every = check.integer("every", every, low=1)
        self.lam = check.number("lam", lam, low=0.0, high=1.0, low_open=True)
        self.feedback = check.number("feedback", feedback)
        self.seed = seed

    def init(self, n: int) -> None:
        """Zero readout, P = I / alpha, feedback weights Q U(-1, 1)."""
        self.W_ = np.zeros((self.n_outputs, n))
        self.P_ = np.eye(n) / self.alpha
        rng = make_rng(self.seed)
        self.fb_ = self.feedback * (2.0 * rng.random((self.n_outputs, n)) - 1.0)

    def reset_P(self) -> None:
        """P <- I / alpha (forget the accumulated correlation, keep the weights)."""
        self.P_ = np.eye(self.P_.shape[0]) / self.alpha

    def rule(self) -> RLS:
        """The core rule that trains this readout on the generic Network path."""
        return RLS(self.alpha, self.every, self.lam)

    def network(self, reservoir, inputs, targets=None, *, train=True):
        """One run as a :class:`~biosim.core.Network`: the reservoir from its current state
        (:meth:`Reservoir.add_to <biosim.reservoir.Reservoir.add_to>`), a
        :class:`~biosim.reservoir.LinearReadout` of K units that reads the reservoir in the
        same step (``read_now``: y(t) = W r(t)), a dense projection with the weights ``W_``
        and (``train``) the rule :meth:`rule` sharing ``P_``, the feedback ``fb_`` as a
        dense projection from the readout onto the reservoir's input (when ``feedback`` is
        not 0: it delivers fb^T y(t - 1) at step t), an ``ArrayCurrent`` of
        ``reservoir.currents(inputs)`` and a :class:`~biosim.reservoir.Targets`
        callback. The same operations in the same order as FORCE's fused kernel
        :func:`run_force`, which ``Network.run`` picks for it (bit for bit with one output;
        with more, the generic loop sums the feedback in another order). Returns (net,
        readout projection, monitor of the outputs)."""
        from biosim.core import ArrayCurrent, Network
        from biosim.core.connectivity import all_to_all
        from biosim.reservoir.network import LinearReadout, Targets

        if getattr(self, "W_", None) is None or self.W_.shape[1] != reservoir.n:
            self.init(reservoir.n)
        I = reservoir.currents(inputs)
        T = I.shape[0]
        if targets is None and train:
            check.fail("targets", "an array (steps, n_outputs) when train=True", None)
        net = Network(dt=reservoir.dt)  # draws nothing: the noise is in I
        pop = reservoir.add_to(net, noise=False)
        out = net.add(LinearReadout(self.n_outputs, name="readout"))
        proj = net.connect(pop, out, all_to_all(), weight=self.W_.T,
                           rule=self.rule() if train else None)
        out.read_now(proj)
        if train:
            targets = check.array("targets", targets, shape=(T, self.n_outputs))
            proj.rule.P_ = self.P_  # learned in place
            net.callback(Targets(targets.copy()))
        if self.feedback != 0.0:
            net.connect(out, pop, all_to_all(), weight=self.fb_, name="feedback")
        net.add(ArrayCurrent(pop, I))
        return net, proj, net.monitor(out, "activity")

    def run(self, reservoir, inputs, targets=None, *, train=True):
        """Run from the reservoir's current state; returns the outputs (steps, K). With
        ``train`` the readout learns ``targets`` (steps, K). Runs :meth:`network` with
        ``Network.run``, i.e. in the fused kernel :func:`run_force`, and leaves the reservoir
        in the run's final state."""
        net, proj, outputs = self.network(reservoir, inputs, targets, train=train)
        pop = net.populations[0]
        T = net.inputs[0].table.shape[0]
        try:
            net.run(T * reservoir.dt, progress=False, fused=True)
        except check.BiosimError:  # the reservoir's or the readout's message
            reservoir.state = pop.state
            reservoir.check_finite(T)
            self._check(proj.W, outputs.values)
            raise
        finally:
            reservoir.state = pop.state
        reservoir.check_finite(T)
        self.W_[:] = proj.W.T
        Y = outputs.values.reshape(T, self.n_outputs)
        self._check(self.W_, Y)
        return Y

    def _check(self, W, Y):
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(Y))):
            check.fail("alpha", "a FORCE run that stays finite (weights became non-finite; "
                                "raise alpha or lower the feedback/recurrent gain)", self.alpha)


class RLS(Rule):
    """FORCE's recursive least squares as a core plasticity rule, for a dense projection
    from a reservoir (rate) to a readout (:class:`~biosim.reservoir.LinearReadout`): every
    ``every`` updates (counted from the first), y = W^T r with this step's rate r, err = y -
    target and one :func:`rls_step` on W and P (P(0) = I / alpha). The target is the
    modulator ``"target"`` (one value per readout unit, set by a callback each step,
    :class:`~biosim.reservoir.Targets`). This is the learning of :meth:`FORCE.run`
    (same operations: tested equal). A readout population's output lags one step, as every
    projection's delivery does, unless it reads the reservoir in the same step
    (``LinearReadout.read_now``, as :meth:`FORCE.network` builds it): then its output, and
    the feedback it sends, have FORCE's timing exactly.

    Learned: ``P_`` (n_pre, n_pre), allocated at the first update; ``updates_``."""

    accepts = ("rate", "analog")

    def __init__(self, alpha=0.5, every=20, lam=1.0):
        self.alpha = check.positive("alpha", alpha)
        self.every = check.integer("every", every, low=1)
        self.lam = check.number("lam", lam, low=0.0, high=1.0, low_open=True)
        super().__init__([], modulators=("target",))
        self.P_, self.updates_ = None, 0

    def reset(self):
        super().reset()
        self.P_, self.updates_ = None, 0

    def update(self, weights, x_pre, x_post, dt, mod):
        if not weights.dense:
            check.fail("weights", "a dense projection for RLS (all_to_all)", "CSR")
        if x_pre.ndim != 1:
            check.fail("activity", "one value per unit for RLS", f"shape {x_pre.shape}")
        if self.P_ is None or self.P_.shape[0] != x_pre.size:
            self.P_ = np.eye(x_pre.size) / self.alpha
        if self.updates_ % self.every == 0:
            W = weights.W.T  # (K, n), a view: rls_step writes the projection's weights
            y = np.empty(W.shape[0])
            linear_readout(W, x_pre, y)
            rls_step(W, self.P_, x_pre, y - mod, self.lam, np.empty(x_pre.size))
        self.updates_ += 1
