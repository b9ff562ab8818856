"""The reservoir on the core :class:`~biosim.core.Network`: its neurons as a
:class:`ReservoirPopulation`, its recurrent weights as a core CSR
:class:`~biosim.core.projection.Projection` (``Reservoir.add_to(net)``), readouts as
:class:`LinearReadout` populations trained by the core ``ThreeFactor`` rule.

``Network.run`` runs a network of one reservoir (its recurrent projection, any inputs,
spike/rate monitors and state monitors of r, the rate and the spikes) in the fused kernel of
:func:`biosim.reservoir.reservoir.run_features` (the kernel of ``Reservoir.run``): the same
floating-point operations in the same order as the generic loop, so the two give the same
spikes and state bit for bit (tested). With a :class:`LinearReadout` trained by the core
``ThreeFactor`` rule of ``ThreeFactorReadout.rule`` (per-readout rates, online and offline
readouts, centred features) and a :class:`Teacher` (the network of
``ThreeFactorReadout.network``, which ``ThreeFactorReadout.trial`` runs) it runs the fused
trial kernel :func:`biosim.reservoir.readout.run_trial`: the same spikes, and outputs and
weights equal to rounding (the generic loop sums the readout with BLAS and centres with
NumPy's mean). With a :class:`LinearReadout` that reads the reservoir in the same step
(``read_now``), trained by :class:`~biosim.reservoir.RLS` with a :class:`Targets` callback (or
not trained), and optionally a feedback projection from it onto the reservoir (the network of
``FORCE.network``, which ``FORCE.run`` runs) it runs FORCE's kernel
:func:`biosim.reservoir.force.run_force`: bit for bit the generic loop with one output."""
from __future__ import annotations

import math

import numpy as np

from biosim.core import ArrayCurrent, Population
from biosim.core import validation as check
from biosim.core.monitors import RateMonitor, SpikeMonitor, StateMonitor, WeightMonitor
from biosim.core.plasticity import ThreeFactor
from biosim.core.projection import _csr_values
from biosim.neurons.izhikevich import Izhikevich, izhikevich_step
from biosim.reservoir.force import RLS, Rls, linear_readout, run_force
from biosim.reservoir.readout import Learning, filtered_pre, run_trial
from biosim.reservoir.reservoir import (Csr, Kernel, Neurons, Reservoir, State, Synapses,
                                        filter_step, run_features)


class ReservoirPopulation(Izhikevich):
    """The neurons of a :class:`~biosim.reservoir.Reservoir`: a core
    :class:`~biosim.neurons.Izhikevich` population (the reservoir's a-d, coefficients, scheme
    and current state, copied) with a per-neuron ``bias`` and filtered synapses: activity = filtered spike trains r (1/ms), so that a projection with
    weights W delivers W^T r (a readout); spikes are in ``state["spikes"]``. Inputs: ``I``
    (model units, added to the per-neuron bias) and ``syn``, weighted spikes (a projection
    with ``source="spikes"``) that the population filters into the synaptic current J, as
    r filters its spikes. Activity kinds ``("rate", "spikes")``: spike and rate monitors
    read the spikes. Runs at the reservoir's dt. ``Reservoir.add_to(net)`` adds it with its
    recurrent projection.

    ``center=True``: ``activity`` is the centred features r_j - mean_k r_k (kind
    ``"analog"``, signed; ``state["r"]`` keeps r): the population mean removed, as by a
    global inhibitory or normalising input, so that every projection from it delivers
    W^T (r - mean r) and every rule on it reads the centred features (a three-factor
    readout's output and eligibility).

    Step: J filters ``syn``; I = bias + I + J; the neurons step; r filters the spikes (the
    order of :func:`biosim.reservoir.reservoir.step`)."""

    input_names = ("I", "syn")
    activity_kinds = ("rate", "spikes")
    #: Network.run asks this class for a fused kernel also when readouts are beside it
    fused_mixed = True

    def __init__(self, reservoir, name="reservoir", center=False):
        if not isinstance(reservoir, Reservoir):
            check.fail("reservoir", "a biosim.reservoir.Reservoir", type(reservoir).__name__)
        st = reservoir.state
        super().__init__(reservoir.n, reservoir.a, reservoir.b, reservoir.c, reservoir.d,
                         v0=st["v"], u0=st["u"], scheme=reservoir.scheme,
                         coefficients=reservoir.model, name=name)
        self.res = reservoir
        self.bias = reservoir.bias_.copy()
        self.state.update({k: st[k].copy() for k in ("r", "hr", "J", "hJ", "spikes")})
        self.center = check.flag("center", center)
        if self.center:  # signed features: what projections and rules read
            self.activity_kinds = ("analog", "spikes")
            self.activity = self.state["r"] - self.state["r"].mean()
        else:
            self.activity = self.state["r"]

    def check_dt(self, dt):
        if dt != self.res.dt:
            check.fail("dt", f"the reservoir's dt = {self.res.dt:g} ms (population "
                             f"{self.name!r})", dt)

    def step(self, t, dt):
        s, p = self.state, self.params
        syn = Synapses(dt, self.res.tau_rise, self.res.tau_decay)
        filter_step(s["J"], s["hJ"], self.inputs["syn"], syn)
        izhikevich_step(s["v"], s["u"], p["a"], p["b"], p["c"], p["d"],
                        self.bias + self.inputs["I"] + s["J"], s["spikes"], dt, self.quadratic,
                        self.scheme == "published")
        filter_step(s["r"], s["hr"], s["spikes"], syn)
        if self.center:
            np.subtract(s["r"], s["r"].mean(), out=self.activity)

    def neurons(self) -> Neurons:
        """The :class:`~biosim.reservoir.reservoir.Neurons` record of this population."""
        p = self.params
        return Neurons(p["a"], p["b"], p["c"], p["d"], self.bias, self.quadratic,
                       self.scheme == "published")

    @classmethod
    def fused_runner(cls, net):
        """The fused kernel for a network of one reservoir, or None (generic loop)."""
        return _fused_runner(net)


class LinearReadout(Population):
    """Linear units: activity y = the summed input of this step (kind ``"analog"``): with a
    projection of weights W from a population of activity x, y(t) = W^T x(t - 1), as every
    delivery lags one step. After :meth:`read_now` it is y(t) = W^T x(t) instead."""

    input_names = ("I",)
    activity_kinds = ("analog",)
    #: the projection read in the same step (read_now), or None
    reads = None

    def read_now(self, proj) -> None:
        """Read ``proj`` (dense, onto this population, from a population added before this
        one, so that it has stepped) without delay: y(t) = W^T x(t), this step's activity
        of its pre population, summed in the order of the pre units
        (:func:`biosim.reservoir.force.linear_readout`), with the weights before this
        step's rule update. FORCE's readout (Sussillo & Abbott 2009): its output and the
        feedback it sends use the features of the same step."""
        if getattr(proj, "post", None) is not self or not proj.weights.dense or proj.max_delay:
            check.fail("proj", f"a dense projection without delay onto {self.name!r}",
                       getattr(proj, "name", proj))
        self.reads = proj

    def step(self, t, dt):
        if self.reads is None:
            self.activity[:] = self.inputs["I"]
        else:
            proj = self.reads
            linear_readout(proj.weights.W.T, np.asarray(proj.pre.activity, float),
                           self.activity)


class Targets:
    """A callback that sets ``net.modulators["target"]`` = targets[n] every step n (the
    target of the :class:`~biosim.reservoir.RLS` rule); ``targets`` (steps, K). Add it with
    ``net.callback(Targets(targets))``."""

    def __init__(self, targets):
        self.targets = check.array("targets", targets, ndim=2)
        self.__name__ = "targets"

    def __call__(self, net):
        net.modulators["target"] = self.targets[net.step_count]


class Teacher:
    """A callback that sets the three-factor rule's modulators every step n:
    ``error`` = targets[n] - y(n) (y the ``readout``'s activity) and ``gate`` = 1 where
    window[n] > 0, else ``gate_floor``. ``targets`` (steps, K), ``window`` (steps,) or
    (steps, K). Add it with ``net.callback(teacher)``."""

    def __init__(self, readout, targets, window, gate_floor=0.0):
        self.readout = readout
        self.targets = check.array("targets", targets, ndim=2)
        if self.targets.shape[1] != readout.n:
            check.fail("targets", f"shape (steps, {readout.n})", f"shape {self.targets.shape}")
        window = np.asarray(window, float)
        window = window[:, None] if window.ndim == 1 else window
        self.window = np.broadcast_to(window, self.targets.shape).copy()
        self.gate_floor = check.number("gate_floor", gate_floor, low=0.0, high=1.0)
        self.__name__ = "teacher"

    def __call__(self, net):
        n = net.step_count
        net.modulators["error"] = self.targets[n] - self.readout.activity
        net.modulators["gate"] = np.where(self.window[n] > 0, 1.0, self.gate_floor)


#: state monitors the fused kernel records: variable -> R (features) or S (spikes)
_RECORDED = {"r": "R", "rate": "R", "activity": "R", "spikes": "S"}


class _Runner:
    """``advance(n)`` for :meth:`Network.run`: the inputs' rows of the chunk are summed by the
    inputs themselves (same values and random streams as the generic loop), then the kernel
    steps the reservoir (:func:`run_features`, :func:`run_trial` with a three-factor
    readout, :func:`run_force` with a FORCE readout) and the monitors take the records."""

    def __init__(self, net, pop, proj, monitors, readout=None, force=None):
        self.net, self.pop, self.proj, self.monitors = net, pop, proj, monitors
        self.readout = readout  # (LinearReadout, its projection, Teacher) or None
        self.force = force  # (LinearReadout, its projection, feedback or None, Targets or None)
        n = pop.n
        if proj is None:
            self.csr = Csr(np.zeros(0), np.zeros(n + 1, np.int64), np.zeros(0, np.int64))
        else:
            w = proj.weights
            self.csr = Csr(w.data, w.indptr, w.indices)
        self.spikes = any(type(m) is not WeightMonitor and m.source is pop
                          and (type(m) is not StateMonitor or _RECORDED[m.var] == "S")
                          for m in monitors)

    def _rows(self, now, n_steps):
        """The input currents of steps now .. now + n_steps - 1, (n_steps, n)."""
        net, buf = self.net, self.pop.inputs["I"]
        if all(type(inp) is ArrayCurrent and inp.every == 1 and inp.indices is None
               and inp.table.ndim == 2 for inp in net.inputs):
            tabs = [inp.table[now:now + n_steps] for inp in net.inputs]
            if len(tabs) == 1 and len(tabs[0]) == n_steps:
                return tabs[0]  # a view: 0 + x is x (up to the sign of a zero)
            rows = np.zeros((n_steps, self.pop.n))
            for tab in tabs:  # summed in the order of the loop
                rows[:len(tab)] += tab
            return rows
        rows = np.zeros((n_steps, self.pop.n))
        for k in range(n_steps):
            buf.fill(0.0)
            for inp in net.inputs:
                inp.add(now + k, (now + k) * net.dt, net.dt)
            rows[k] = buf
        return rows

    def __call__(self, n_steps):
        net, pop, res = self.net, self.pop, self.pop.res
        now, dt, s = net.step_count, net.dt, pop.state
        I = self._rows(now, n_steps)
        k = Kernel(State(**s), pop.neurons(), Synapses(dt, res.tau_rise, res.tau_decay),
                   self.csr)
        # allocated only when recorded: fresh pages of a few MB per trial cost
        S = np.empty((n_steps if self.spikes else 0, pop.n), np.bool_)
        R = Y = done = between = None
        if self.readout is not None:
            run, Y, done = self._learning(k, I, S, now, n_steps)
        elif self.force is not None:
            run, Y, between, done = self._force_run(k, I, S, now, n_steps)
        else:
            R = np.empty((n_steps, pop.n))
            run = lambda lo, hi: run_features(k, I[lo:hi], R[lo:hi], S[lo:hi])  # noqa: E731
        run(0, n_steps - 1)
        pop.inputs["I"][:] = I[-1]  # the buffers as the generic loop leaves them
        pop.inputs["syn"][:] = 0.0
        _csr_values(*self.csr, s["spikes"], pop.inputs["syn"])
        if between is not None:
            between(I[-1])
        run(n_steps - 1, n_steps)
        if pop.center:
            np.subtract(s["r"], s["r"].mean(), out=pop.activity)
        if done is not None:
            done(now + n_steps - 1)
        self._record(now, n_steps, R, S, Y)
        net.step_count = now + n_steps

    def _force_run(self, k, I, S, now, n_steps):
        """:func:`run_force` on a contiguous (K, n) copy of the readout's weights and the
        rule's P (in place); ``between`` sets the buffers that the generic loop leaves
        (delivered before the last step), ``done`` writes the weights, the output y, the
        rule's update count and the target back."""
        out, proj, fbp, targets_cb = self.force
        rule, n, K = proj.rule, self.pop.n, out.n
        W = np.ascontiguousarray(proj.weights.W.T)
        fb = np.zeros((K, n)) if fbp is None else fbp.weights.W
        if rule is None:
            P, lam, every, offset = np.zeros((0, 0)), 1.0, 0, 0
            targets = np.zeros((n_steps, K))
        else:
            if now + n_steps > targets_cb.targets.shape[0]:
                check.fail("targets", f"rows for steps up to {now + n_steps} (the callback "
                                      f"has {targets_cb.targets.shape[0]})", "too few")
            if rule.P_ is None or rule.P_.shape[0] != n:
                rule.P_ = np.eye(n) / rule.alpha
            P, lam, every, offset = rule.P_, rule.lam, rule.every, rule.updates_
            targets = targets_cb.targets[now:now + n_steps]
        y = out.activity.copy()
        Y = np.empty((n_steps, K))

        def run(lo, hi):
            run_force(k, I[lo:hi], Rls(W, P, fb, lam, every, offset + lo, y), targets[lo:hi],
                      Y[lo:hi])

        def between(last_row):
            proj.weights.W[:] = W.T
            out.inputs["I"][:] = 0.0
            out.inputs["I"] += proj.weights.W.T @ self.pop.activity
            if fbp is not None:
                buf = self.pop.inputs["I"]
                buf[:] = 0.0
                buf += fbp.weights.W.T @ y
                buf += last_row

        def done(last):
            proj.weights.W[:] = W.T
            out.activity[:] = y
            if rule is not None:
                rule.updates_ += n_steps
                self.net.modulators["target"] = targets_cb.targets[last]
        return run, Y, between, done

    def _learning(self, k, I, S, now, n_steps):
        """The trial kernel on contiguous (K, n) copies of the rule's arrays, and ``done``,
        which writes them back (weights (n, K), eligibility and pending flat)."""
        out, proj, teacher = self.readout
        if now + n_steps > teacher.targets.shape[0]:
            check.fail("targets", f"rows for steps up to {now + n_steps} (the teacher has "
                                  f"{teacher.targets.shape[0]})", "too few")
        rule, n, K = proj.rule, self.pop.n, out.n
        if rule.eligibility_ is None:  # allocated as the rule's first update would
            rule.eligibility_ = np.zeros(n * K)
            rule.pre_trace, rule.post_trace = np.zeros(n), np.zeros(K)
        offline = np.broadcast_to(rule.offline, (K,))
        if offline.any() and rule.pending_ is None:
            rule.pending_ = np.zeros(n * K)
        W = np.ascontiguousarray(proj.weights.W.T)
        E = np.ascontiguousarray(rule.eligibility_.reshape(n, K).T)
        A = np.zeros((K, n)) if rule.pending_ is None else \
            np.ascontiguousarray(rule.pending_.reshape(n, K).T)
        learn = Learning(W, E, A, ~offline, np.broadcast_to(rule.eta, (K,)).astype(float),
                         math.exp(-self.net.dt / rule.tau_e), teacher.gate_floor,
                         self.pop.center)
        targets = teacher.targets[now:now + n_steps]
        window = teacher.window[now:now + n_steps]
        Y = np.empty((n_steps, K))

        def run(lo, hi):
            run_trial(k, I[lo:hi], learn, targets[lo:hi], window[lo:hi], Y[lo:hi], S[lo:hi])

        def done(last):
            proj.weights.W[:] = W.T
            rule.eligibility_.reshape(n, K)[:] = E.T
            if rule.pending_ is not None:
                rule.pending_.reshape(n, K)[:] = A.T
            self._leave_readout(Y, last)
        return run, Y, done

    def _leave_readout(self, Y, last):
        """The readout's buffer, activity and the modulators as after the generic step."""
        out, _, teacher = self.readout
        out.inputs["I"][:] = Y[-1]
        out.activity[:] = Y[-1]
        self.net.modulators["error"] = teacher.targets[last] - Y[-1]
        self.net.modulators["gate"] = np.where(teacher.window[last] > 0, 1.0,
                                               teacher.gate_floor)

    def _record(self, now, n, R, S, Y):
        dt = self.net.dt
        for m in self.monitors:
            if type(m) is SpikeMonitor:
                steps, idx = np.nonzero(S)
                m.add_block(steps + now, idx, dt)
            elif type(m) is RateMonitor:
                m.add_counts(S.sum(axis=1), dt)
            elif type(m) is StateMonitor:
                X = Y if m.source is not self.pop else R if _RECORDED[m.var] == "R" else S
                rows = np.flatnonzero((now + np.arange(n)) % m.every == 0)
                x = X[rows] if m.indices is None else X[np.ix_(rows, m.indices)]
                m.add_rows((now + rows + 1) * dt, x)
            else:  # WeightMonitor: no rule, the weights of every step
                for r in range(n):
                    m.record(now + r, (now + r) * dt, dt)


def _readout(net, pop, others):
    """(LinearReadout, projection, Teacher) of a network the trial kernel runs, or None."""
    pops, callbacks = net.populations, net.callbacks
    if len(pops) != 2 or type(pops[1]) is not LinearReadout or len(callbacks) != 1:
        return None
    out, (teacher, every) = pops[1], callbacks[0]
    if not isinstance(teacher, Teacher) or teacher.readout is not out or every != 1 \
            or out.reads is not None or len(others) != 1:
        return None
    proj = others[0]
    rule = proj.rule
    if (proj.pre is not pop or proj.post is not out or not proj.weights.dense
            or proj.max_delay or proj.target != "I"
            or proj.source is not None or type(rule) is not ThreeFactor
            or rule.kernel is not filtered_pre or rule.tau_pre is not None
            or rule.tau_post is not None or set(rule.modulators) != {"error", "gate"}
            or rule.w_min != -np.inf or rule.w_max != np.inf
            or rule.params.tolist() != [1.0 - math.exp(-net.dt / rule.tau_e)]):
        return None
    return out, proj, teacher


def _force(net, pop, others):
    """(LinearReadout, projection, feedback projection or None, Targets or None) of a network
    the FORCE kernel runs, or None: a readout that reads the reservoir in the same step,
    trained by RLS with a Targets callback or not trained, with or without feedback."""
    pops, callbacks = net.populations, net.callbacks
    if len(pops) != 2 or type(pops[1]) is not LinearReadout or pop.center:
        return None
    out = pops[1]
    proj = out.reads
    if proj is None or proj.pre is not pop or proj.target != "I" or proj.source is not None \
            or (proj.rule is not None and type(proj.rule) is not RLS):
        return None
    feedback = [p for p in others if p is not proj]
    if len(feedback) > 1 or len(others) != 1 + len(feedback):
        return None
    fbp = feedback[0] if feedback else None
    if fbp is not None and (fbp.pre is not out or fbp.post is not pop or fbp.target != "I"
                            or not fbp.weights.dense or fbp.max_delay
                            or fbp.rule is not None or fbp.source is not None):
        return None
    if proj.rule is None:
        return (out, proj, fbp, None) if not callbacks else None
    if len(callbacks) != 1 or type(callbacks[0][0]) is not Targets or callbacks[0][1] != 1:
        return None
    return out, proj, fbp, callbacks[0][0]


def _fused_runner(net):
    pops = net.populations
    pop = pops[0]
    if type(pop) is not ReservoirPopulation:
        return None
    recurrent = [p for p in net.projections if p.pre is pop and p.post is pop]
    others = [p for p in net.projections if not (p.pre is pop and p.post is pop)]
    readout = force = None
    if len(pops) > 1 or net.callbacks or others:
        readout = _readout(net, pop, others)
        force = _force(net, pop, others) if readout is None else None
        if readout is None and force is None:
            return None
    if len(recurrent) > 1:
        return None
    proj = recurrent[0] if recurrent else None
    if proj is not None and (proj.weights.dense or proj.rule is not None
                             or proj.max_delay or proj.target != "syn"
                             or proj.source != "spikes"):
        return None
    if any(inp.var != "I" or inp.target is not pop for inp in net.inputs):
        return None
    out = readout[0] if readout else force[0] if force else None
    out_vars = ("activity", "analog") + (("I",) if readout else ())
    for m in net.monitors:
        if type(m) is WeightMonitor and (m.source is not proj or proj is None):
            return None
        if type(m) is not WeightMonitor and m.source is not pop:  # the readout's output
            if out is None or type(m) is not StateMonitor or m.source is not out \
                    or m.var not in out_vars:
                return None
        elif type(m) is StateMonitor and (m.var not in _RECORDED
                                          or (out is not None and _RECORDED[m.var] == "R")
                                          or (pop.center and m.var == "activity")):
            return None
        elif type(m) not in (SpikeMonitor, RateMonitor, StateMonitor, WeightMonitor):
            return None
    return _Runner(net, pop, proj, list(net.monitors), readout, force)
