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

On core objects (:meth:`ThreeFactorReadout.network`): the reservoir population (centred with
``center``), a :class:`~biosim.reservoir.LinearReadout`, the core ``ThreeFactor`` rule with
one rate per readout and ``offline`` readouts (pending changes, ``rule.consolidate``) and a
teacher callback that sets the error and the gate. ``ThreeFactorReadout.trial`` runs that
network with ``Network.run``, which picks the fused trial kernel :func:`run_trial`.
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
    three-factor readout (:meth:`ThreeFactorReadout.network`) in this kernel."""
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
        Read out r_j - mean_j r_j instead of r_j (see the module docstring; the
        reservoir population's ``center`` option on the Network path).

    Learned: ``W_`` (K, n), the eligibility ``eligibility_`` and the pending offline changes
    ``pending_``, allocated by the first trial; ``save``/``load`` as every
    :class:`~biosim.core.estimator.Estimator`.
    """

    _transient = ("_cache",)  # the trials' network (see _prepared)

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

    def rule(self, dt: float, n: int, learn: bool = True) -> ThreeFactor:
        """The core rule of these readouts on a reservoir of ``n`` neurons: rates eta_k / n
        (0 without ``learn``), the offline readouts' changes pending until consolidated."""
        decay = math.exp(-dt / self.tau_e)
        eta = self.eta / n if learn else np.zeros_like(self.eta)
        return ThreeFactor(eta, self.tau_e, modulators=("error", "gate"),
                           eligibility=filtered_pre, eligibility_params=[1.0 - decay],
                           tau_pre=None, offline=np.array([m == "offline" for m in self.modes]))

    def init(self, n: int) -> None:
        """Zero weights for a reservoir of n neurons."""
        self.W_ = np.zeros((self.n_outputs, n))
        self.eligibility_ = np.zeros_like(self.W_)
        self.pending_ = np.zeros_like(self.W_)

    def network(self, reservoir, inputs, targets, window, *, learn=True):
        """One trial as a :class:`~biosim.core.Network`: the reservoir from its current
        state (:meth:`Reservoir.add_to <biosim.reservoir.Reservoir.add_to>`, centred if
        ``center``), a :class:`~biosim.reservoir.LinearReadout` of K units, a dense
        projection with this readout's weights and :meth:`rule`, an ``ArrayCurrent`` of
        ``reservoir.currents(inputs)`` (its noise from the reservoir's stream) and a
        :class:`~biosim.reservoir.Teacher` for ``targets`` and ``window``; the
        rule starts from zero eligibility and this readout's pending changes.
        ``Network.run`` runs it in the fused trial kernel :func:`run_trial` (the generic
        loop with ``fused=False``). Returns (net, readout projection, monitor of the
        outputs)."""
        from biosim.core import ArrayCurrent, Network
        from biosim.core.connectivity import all_to_all
        from biosim.reservoir.network import LinearReadout, Teacher

        if getattr(self, "W_", None) is None or self.W_.shape[1] != reservoir.n:
            self.init(reservoir.n)
        I = reservoir.currents(inputs)
        targets, window = self._teaching(targets, window, I.shape[0])
        net = Network(dt=reservoir.dt)  # draws nothing: the noise is in I
        pop = reservoir.add_to(net, noise=False, center=self.center)
        out = net.add(LinearReadout(self.n_outputs, name="readout"))
        proj = net.connect(pop, out, all_to_all(), weight=self.W_.T,
                           rule=self.rule(reservoir.dt, reservoir.n, learn))
        if proj.rule.offline.any():
            proj.rule.pending_ = self.pending_.T.reshape(-1)  # a copy, in the weights' order
        net.add(ArrayCurrent(pop, I))
        net.callback(Teacher(out, targets.copy(), window, self.gate_floor))
        return net, proj, net.monitor(out, "activity")

    def _teaching(self, targets, window, T):
        targets = check.array("targets", targets, shape=(T, self.n_outputs))
        window = np.asarray(window, float)
        try:
            window = np.broadcast_to(window[:, None] if window.ndim == 1 else window,
                                     targets.shape)
        except ValueError:
            check.fail("window", f"shape ({T},) or ({T}, {self.n_outputs})",
                       f"shape {window.shape}")
        return targets, window

    def _prepared(self, reservoir, inputs, targets, window, learn, record_spikes):
        """The trial's network, its projection and monitors: built by :meth:`network` for
        the first trial, then reused while the reservoir (and its arrays), the trial length
        and the readout's structure stay the same (the reservoir's parameters and weights
        compared by value), with its state, weights, rule, currents, targets and records
        refreshed (building it costs ~20% of a trial at N = 1000)."""
        if getattr(self, "W_", None) is None or self.W_.shape[1] != reservoir.n:
            self.init(reservoir.n)
        key = (np.shape(inputs), bool(record_spikes), self.n_outputs, self.center,
               tuple(self.modes), self.tau_e, self.gate_floor, reservoir.dt)
        cache = getattr(self, "_cache", None)
        if cache is None or cache[0] is not reservoir or cache[1] != key \
                or not _same_reservoir(cache[2], reservoir):
            net, proj, outputs = self.network(reservoir, inputs, targets, window, learn=learn)
            spikes = net.monitor(net.populations[0], "spikes") if record_spikes else None
            self._cache = (reservoir, key, net, proj, outputs, spikes, net.inputs[0].table)
            return net, proj, outputs, spikes
        _, _, net, proj, outputs, spikes, I = cache
        reservoir.currents(inputs, out=I)
        targets, window = self._teaching(targets, window, I.shape[0])
        teacher = net.callbacks[0][0]
        teacher.targets[:] = targets
        teacher.window[:] = window
        pop = net.populations[0]
        for k, v in reservoir.state.items():
            if pop.state[k] is not v:
                pop.state[k][:] = v
        if pop.center:
            np.subtract(pop.state["r"], pop.state["r"].mean(), out=pop.activity)
        rule = proj.rule
        rule.reset()  # zero eligibility
        rule.eta[:] = self.eta / reservoir.n if learn else 0.0
        if rule.offline.any():
            rule.pending_ = self.pending_.T.reshape(-1)
        proj.weights.W[:] = self.W_.T
        for m in (outputs, spikes):
            if m is not None:
                m.reset()
        net.step_count = 0
        return net, proj, outputs, spikes

    def trial(self, reservoir, inputs, targets, window, *, learn=True, record_spikes=False,
              consolidate=True):
        """Run one trial from the reservoir's current state; returns the outputs (steps, K)
        (and the raster). ``consolidate=False`` keeps the offline changes pending (for
        consolidation at the end of a block). ``window``: (steps,) or (steps, K), 1 where
        attention is on. Runs the network of :meth:`network` (kept for the next trials)
        with ``Network.run``, i.e. in the fused trial kernel, and leaves the reservoir in
        the trial's final state."""
        import contextlib
        import warnings

        from biosim.core.validation import BiosimWarning

        net, proj, outputs, spikes = self._prepared(reservoir, inputs, targets, window, learn,
                                                    record_spikes)
        pop = net.populations[0]
        T = len(targets)
        short = T < 10  # a run of a few steps is meant here: no warning
        with warnings.catch_warnings() if short else contextlib.nullcontext():
            if short:
                warnings.simplefilter("ignore", BiosimWarning)
            try:
                net.run(T * reservoir.dt, progress=False, fused=True)
            except check.BiosimError:  # the reservoir's or the readout's message
                reservoir.state = pop.state
                reservoir.check_finite(T)
                self._check_weights(proj.W)
                raise
            finally:
                reservoir.state = pop.state
        reservoir.check_finite(T)
        n, K = reservoir.n, self.n_outputs
        self.W_[:] = proj.W.T
        self.eligibility_[:] = proj.rule.eligibility_.reshape(n, K).T
        if proj.rule.pending_ is not None:
            self.pending_[:] = proj.rule.pending_.reshape(n, K).T
        if consolidate:
            self.consolidate()
        Y = outputs.values.reshape(T, K)
        if not record_spikes:
            return Y
        S = np.zeros((T, n), np.bool_)
        S[spikes.steps, spikes.i] = True
        return Y, S

    def _check_weights(self, W) -> None:
        if not np.all(np.isfinite(W)):
            check.fail("eta", "a learning rate that converges (readout weights became "
                              "non-finite; lower eta)", self.eta.tolist())

    def consolidate(self) -> None:
        """Offline consolidation: add the accumulated changes of the offline readouts."""
        self.W_ += self.pending_
        self.pending_[:] = 0.0
        self._check_weights(self.W_)


def _same_reservoir(net, reservoir) -> bool:
    """Whether the reservoir population and recurrent projection of ``net`` still hold the
    parameters and weights of ``reservoir`` (changed in place or replaced since: rebuild)."""
    pop, w = net.populations[0], net.projections[0].weights
    return (all(np.array_equal(pop.params[k], getattr(reservoir, k)) for k in "abcd")
            and np.array_equal(pop.bias, reservoir.bias_)
            and np.array_equal(w.data, reservoir.data)
            and np.array_equal(w.indices, reservoir.indices)
            and np.array_equal(w.indptr, reservoir.indptr))
