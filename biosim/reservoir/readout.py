"""Linear readouts y_k = sum_j w_kj r_j trained by the error-modulated, attention-gated
three-factor rule (the core :class:`~biosim.core.ThreeFactor` with a filtered-pre
eligibility)::

    e_kj <- e_kj exp(-dt/tau_e) + (1 - exp(-dt/tau_e)) r_j        (eligibility, unit gain)
    w_kj <- w_kj + (eta_k / n) G_k(t) E_k(t) e_kj dt                 (three factors)

with n the number of neurons (so that the change of the output per unit error does not
grow with the reservoir), E_k = target_k - y_k (the error, third factor) and G_k the attention gate: 1 inside
the windows around the actual and the expected stimulus (``window`` of the task), else
``gate_floor``. "online" readouts apply dw every step (the "when" readout); "offline"
readouts accumulate dw during a trial and consolidate it at the end of the trial (the
"what" readouts). In the mean this is LMS, so with Bernoulli(p) outcomes the output
converges to p times the target template (the conditional expectation).

``center=True`` reads out the centred features r_j - rbar, rbar(t) = mean_j r_j(t) (the
population mean removed, as by a global inhibitory or normalising input; a standard
readout choice), in the output and in the eligibility. The features are non-negative and
share the population-rate time course, a common mode that every readout loads on; without
it the what and when weights are near-orthogonal more reliably (see
tests/reservoir/test_claims.py: above the neuron-shuffled median angle in 7-8 of 8 seeds at
latencies 150, 250 and 300 ms, 5-8 of 8 uncentred, at N = 200; at N = 1000 the angle,
86.7-88.6 deg, is below the shuffled 88.9-89.2 deg).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from biosim.core import validation as check
from biosim.core.estimator import Estimator
from biosim.core.plasticity import ThreeFactor
from biosim.reservoir.reservoir import step as reservoir_step

MODES = ("online", "offline")


@njit(cache=True)
def filtered_pre(w, pre, post, pre_tr, post_tr, mod, dt, p):
    """Eligibility increment of the readout rule: p[0] x pre activity, with
    p[0] = 1 - exp(-dt/tau_e) so that the eligibility is a unit-gain low-pass of r_j."""
    return p[0] * pre


class Learning(NamedTuple):
    """The readouts' arrays and constants in the fused trial: weights W, eligibility E and
    pending offline changes A (K, n); ``online`` (K,) bool; ``eta`` (K,) per synapse;
    ``e_decay`` = exp(-dt/tau_e); ``gate_floor``; ``center``."""

    W: np.ndarray
    E: np.ndarray
    A: np.ndarray
    online: np.ndarray
    eta: np.ndarray
    e_decay: float
    gate_floor: float
    center: bool


# numba's cache keys a kernel on its own file only: a change of reservoir.step (inlined
# here) needs a change of this file too, or warm caches keep the old step
@njit(cache=True)
def run_trial(k, I, ro, targets, window, Y, S):
    """Fused trial: reservoir steps (:func:`biosim.reservoir.reservoir.step` on the
    :class:`~biosim.reservoir.reservoir.Kernel` ``k``), readouts, gates, three-factor
    learning (``ro``: :class:`Learning`).

    Step n: y(n) = W x(n-1); reservoir step; M_k = G_k (target_k(n) - y_k(n));
    e <- e_decay e + (1 - e_decay) x(n); online k: W_k += eta_k M_k e_k dt, offline k:
    A_k += eta_k M_k e_k dt, with x = r (x = r - mean(r) if ``center``). Records y in Y
    (steps, K) and spikes in S (if it has rows). ``Network.run`` runs a reservoir with a
    three-factor readout (:func:`biosim.reservoir.network.build_network`) in this kernel."""
    r = k.state.r
    n = r.size
    W, E, A = ro.W, ro.E, ro.A
    K = W.shape[0]
    dt = k.syn.dt
    cur, drive = np.empty(n), np.empty(n)
    y = np.empty(K)
    for t in range(I.shape[0]):
        rbar = r.mean() if ro.center else 0.0
        for q in range(K):
            acc = 0.0
            for j in range(n):
                acc += W[q, j] * (r[j] - rbar)
            y[q] = acc
        reservoir_step(k, I[t], cur, drive)
        rbar = r.mean() if ro.center else 0.0
        for q in range(K):
            gate = 1.0 if window[t, q] > 0.0 else ro.gate_floor
            m = ro.eta[q] * gate * (targets[t, q] - y[q]) * dt
            for j in range(n):
                e = ro.e_decay * E[q, j] + (1.0 - ro.e_decay) * (r[j] - rbar)
                E[q, j] = e
                if ro.online[q]:
                    W[q, j] += m * e
                else:
                    A[q, j] += m * e
            Y[t, q] = y[q]
        if S.shape[0]:
            S[t] = k.state.spikes


class ThreeFactorReadout(Estimator):
    """K linear readouts of a :class:`~biosim.reservoir.Reservoir` with the three-factor rule.

    Parameters
    ----------
    n_outputs : int
    eta : float or sequence
        Learning rate per readout; the rate applied to each synapse is eta / n.
    modes : sequence of "online"/"offline"
        Per readout (default all online).
    tau_e : float
        Eligibility time constant in ms.
    gate_floor : float
        Gate value elsewhere (0: learning only in attended windows).
    center : bool
        Read out r_j - mean_j r_j instead of r_j (see the module docstring; not available
        on the generic Network path).

    Learned: ``W_`` (K, n), the eligibility ``eligibility_`` and the pending offline changes
    ``pending_``, allocated by the first trial; ``save``/``load`` as every
    :class:`~biosim.core.estimator.Estimator`.
    """

    def __init__(self, n_outputs, eta=10.0, modes=None, *, tau_e=5.0, gate_floor=0.0,
                 center=False):
        self.n_outputs = check.integer("n_outputs", n_outputs, low=1)
        eta = check.array("eta", eta, low=0.0)
        if eta.ndim > 1 or eta.size not in (1, self.n_outputs):
            check.fail("eta", f"a number or {self.n_outputs} numbers", eta)
        self.eta = np.broadcast_to(eta.reshape(-1), (self.n_outputs,)).copy()
        modes = modes or ["online"] * self.n_outputs
        if len(modes) != self.n_outputs:
            check.fail("modes", f"{self.n_outputs} entries", modes)
        self.modes = [check.choice("modes", m, MODES) for m in modes]
        self.tau_e = check.positive("tau_e", tau_e, "ms")
        self.gate_floor = check.number("gate_floor", gate_floor, low=0.0, high=1.0)
        if not isinstance(center, (bool, np.bool_)):
            check.fail("center", "True or False", center)
        self.center = bool(center)

    def rule(self, dt: float, n: int, k: int = 0) -> ThreeFactor:
        """The core rule that readout ``k`` applies to a reservoir of ``n`` neurons (for the
        generic Network path)."""
        decay = math.exp(-dt / self.tau_e)
        return ThreeFactor(float(self.eta[k]) / n, self.tau_e, modulators=("error", "gate"),
                           eligibility=filtered_pre, eligibility_params=[1.0 - decay],
                           tau_pre=None)

    def init(self, n: int) -> None:
        """Zero weights for a reservoir of n neurons."""
        self.W_ = np.zeros((self.n_outputs, n))
        self.eligibility_ = np.zeros_like(self.W_)
        self.pending_ = np.zeros_like(self.W_)

    def trial(self, reservoir, inputs, targets, window, *, learn=True, record_spikes=False,
              consolidate=True):
        """Run one trial from the reservoir's current state; returns the outputs (steps, K)
        (and the raster). ``consolidate=False`` keeps the offline changes pending (for
        consolidation at the end of a block). ``window``: (steps,) or (steps, K), 1 where attention is on."""
        if getattr(self, "W_", None) is None or self.W_.shape[1] != reservoir.n:
            self.init(reservoir.n)
        I = reservoir.currents(inputs)
        T = I.shape[0]
        targets = check.array("targets", targets, shape=(T, self.n_outputs))
        window = np.asarray(window, float)
        window = np.broadcast_to(window[:, None] if window.ndim == 1 else window,
                                 (T, self.n_outputs))
        Y = np.zeros((T, self.n_outputs))
        S = np.zeros((T if record_spikes else 0, reservoir.n), np.bool_)
        eta = self.eta / reservoir.n if learn else np.zeros_like(self.eta)
        self.eligibility_[:] = 0.0
        learning = Learning(self.W_, self.eligibility_, self.pending_,
                            np.array([m == "online" for m in self.modes]), eta,
                            math.exp(-reservoir.dt / self.tau_e), self.gate_floor, self.center)
        run_trial(reservoir.kernel(), I, learning, targets, np.ascontiguousarray(window), Y, S)
        reservoir.check_finite(T)
        if consolidate:
            self.consolidate()
        return (Y, S) if record_spikes else Y

    def consolidate(self) -> None:
        """Offline consolidation: add the accumulated changes of the offline readouts."""
        self.W_ += self.pending_
        self.pending_[:] = 0.0
        if not np.all(np.isfinite(self.W_)):
            check.fail("eta", "a learning rate that converges (readout weights became "
                              "non-finite; lower eta)", self.eta.tolist())
