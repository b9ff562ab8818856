"""The reservoir on the core :class:`~biosim.core.Network`: its neurons as a
:class:`ReservoirPopulation`, its recurrent weights as a core CSR
:class:`~biosim.core.projection.Projection` (``Reservoir.add_to(net)``), readouts as
:class:`LinearReadout` populations trained by the core ``ThreeFactor`` rule.

``Network.run`` runs a network of one reservoir (its recurrent projection, any inputs,
spike/rate monitors and state monitors of r, the rate and the spikes) in the fused kernel of
:func:`biosim.reservoir.reservoir.run_features` (the kernel of ``Reservoir.run``): the same
floating-point operations in the same order as the generic loop, so the two give the same
spikes and state bit for bit (tested)."""
from __future__ import annotations

import numpy as np

from biosim.core import ArrayCurrent, Network, Population
from biosim.core import validation as check
from biosim.core.connectivity import all_to_all
from biosim.core.monitors import RateMonitor, SpikeMonitor, StateMonitor, WeightMonitor
from biosim.core.projection import _csr_values
from biosim.neurons.izhikevich import izhikevich_step
from biosim.reservoir.reservoir import (Csr, Kernel, Neurons, Reservoir, State, Synapses,
                                        filter_step, run_features)


class ReservoirPopulation(Population):
    """The neurons of a :class:`~biosim.reservoir.Reservoir` (its parameters and current
    state, copied): activity = filtered spike trains r (1/ms), so that a projection with
    weights W delivers W^T r (a readout); spikes are in ``state["spikes"]``. Inputs: ``I``
    (model units, added to the per-neuron bias) and ``syn``, weighted spikes (a projection
    with ``source="spikes"``) that the population filters into the synaptic current J, as
    r filters its spikes. Activity kinds ``("rate", "spikes")``: spike and rate monitors
    read the spikes. Runs at the reservoir's dt. ``Reservoir.add_to(net)`` adds it with its
    recurrent projection.

    Step: J filters ``syn``; I = bias + I + J; the neurons step; r filters the spikes (the
    order of :func:`biosim.reservoir.reservoir.step`)."""

    input_names = ("I", "syn")
    activity_kinds = ("rate", "spikes")

    def __init__(self, reservoir, name="reservoir"):
        if not isinstance(reservoir, Reservoir):
            check.fail("reservoir", "a biosim.reservoir.Reservoir", type(reservoir).__name__)
        super().__init__(reservoir.n, name)
        self.res = reservoir
        st = reservoir.state
        self.state = {k: x.copy() for k, x in st.items()}
        self.activity = self.state["r"]

    def check_dt(self, dt):
        if dt != self.res.dt:
            check.fail("dt", f"the reservoir's dt = {self.res.dt:g} ms (population "
                             f"{self.name!r})", dt)

    def step(self, t, dt):
        res, s = self.res, self.state
        syn = Synapses(dt, res.tau_rise, res.tau_decay)
        filter_step(s["J"], s["hJ"], self.inputs["syn"], syn)
        izhikevich_step(s["v"], s["u"], res.a, res.b, res.c, res.d,
                        res.bias_ + self.inputs["I"] + s["J"], s["spikes"], dt, res.quadratic,
                        res.scheme == "published")
        filter_step(s["r"], s["hr"], s["spikes"], syn)

    @classmethod
    def fused_runner(cls, net):
        """The fused kernel for a network of one reservoir, or None (generic loop)."""
        return _fused_runner(net)


class LinearReadout(Population):
    """Linear units: activity y = the summed input of this step (kind ``"analog"``)."""

    input_names = ("I",)
    activity_kinds = ("analog",)

    def step(self, t, dt):
        self.activity[:] = self.inputs["I"]


#: state monitors the fused kernel records: variable -> R (features) or S (spikes)
_RECORDED = {"r": "R", "rate": "R", "activity": "R", "spikes": "S"}


class _Runner:
    """``advance(n)`` for :meth:`Network.run`: the inputs' rows of the chunk are summed by the
    inputs themselves (same values and random streams as the generic loop), then
    :func:`run_features` steps the reservoir and the monitors take the records."""

    def __init__(self, net, pop, proj, monitors):
        self.net, self.pop, self.proj, self.monitors = net, pop, proj, monitors
        n = pop.n
        if proj is None:
            self.csr = Csr(np.zeros(0), np.zeros(n + 1, np.int64), np.zeros(0, np.int64))
        else:
            w = proj.weights
            self.csr = Csr(w.data, w.indptr, w.indices)

    def _rows(self, now, n_steps):
        """The input currents of steps now .. now + n_steps - 1, (n_steps, n)."""
        net, buf = self.net, self.pop.inputs["I"]
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
        k = Kernel(State(**s),
                   Neurons(res.a, res.b, res.c, res.d, res.bias_, res.quadratic,
                           res.scheme == "published"),
                   Synapses(dt, res.tau_rise, res.tau_decay), self.csr)
        R, S = np.empty((n_steps, pop.n)), np.empty((n_steps, pop.n), np.bool_)
        run_features(k, I[:-1], R[:-1], S[:-1])
        pop.inputs["I"][:] = I[-1]  # the buffers as the generic loop leaves them
        pop.inputs["syn"][:] = 0.0
        _csr_values(*self.csr, s["spikes"], pop.inputs["syn"])
        run_features(k, I[-1:], R[-1:], S[-1:])
        self._record(now, n_steps, R, S)
        net.step_count = now + n_steps

    def _record(self, now, n, R, S):
        dt = self.net.dt
        for m in self.monitors:
            if type(m) is SpikeMonitor:
                steps, idx = np.nonzero(S)
                m.add_block(steps + now, idx, dt)
            elif type(m) is RateMonitor:
                m.add_counts(S.sum(axis=1), dt)
            elif type(m) is StateMonitor:
                X = R if _RECORDED[m.var] == "R" else S
                for r in range(n):
                    if (now + r) % m.every == 0:
                        x = X[r] if m.indices is None else X[r, m.indices]
                        m.add((now + r + 1) * dt, x.copy())
            else:  # WeightMonitor: no rule, the weights of every step
                for r in range(n):
                    m.record(now + r, (now + r) * dt, dt)


def _fused_runner(net):
    pops = net.populations
    if len(pops) != 1 or net.callbacks or type(pops[0]) is not ReservoirPopulation:
        return None
    pop = pops[0]
    if len(net.projections) > 1:
        return None
    proj = net.projections[0] if net.projections else None
    if proj is not None and (proj.weights.dense or proj.rule is not None or proj.max_delay
                             or proj.target != "syn" or proj.source != "spikes"):
        return None
    if any(inp.var != "I" for inp in net.inputs):
        return None
    for m in net.monitors:
        if type(m) is StateMonitor and m.var not in _RECORDED:
            return None
        if type(m) not in (SpikeMonitor, RateMonitor, StateMonitor, WeightMonitor):
            return None
    return _Runner(net, pop, proj, list(net.monitors))


def build_network(reservoir, readout, inputs, targets, window, seed=None):
    """A Network equal to ``readout.trial(reservoir, inputs, targets, window)`` (all
    readouts online, one learning rate, uncentred features, no reservoir noise): the
    reservoir added by :meth:`Reservoir.add_to`, a :class:`LinearReadout` and the core
    ``ThreeFactor`` rule. Returns (net, readout projection, outputs list)."""
    if readout.center:
        check.fail("center", "False on the generic Network path", True)
    net = Network(dt=reservoir.dt, seed=seed)
    res = reservoir.add_to(net)
    out = net.add(LinearReadout(readout.n_outputs, name="readout"))
    W0 = np.zeros((reservoir.n, readout.n_outputs)) if getattr(readout, "W_", None) is None \
        else readout.W_.T
    proj = net.connect(res, out, all_to_all(), weight=W0, rule=readout.rule(reservoir.dt,
                                                                           reservoir.n))
    net.add(ArrayCurrent(res, reservoir.currents(inputs, noise=False)))
    targets = np.asarray(targets, float)
    window = np.asarray(window, float)
    window = np.broadcast_to(window[:, None] if window.ndim == 1 else window, targets.shape)
    outputs = []

    def teach(net):
        n = net.step_count
        y = out.activity.copy()
        outputs.append(y)
        gate = np.where(window[n] > 0, 1.0, readout.gate_floor)
        net.modulators["error"] = targets[n] - y
        net.modulators["gate"] = gate

    net.callback(teach)
    return net, proj, outputs
