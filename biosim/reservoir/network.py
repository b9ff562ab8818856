"""The reservoir and its three-factor readout on the generic :class:`~biosim.core.Network`
path (populations, projections, an ``ArrayCurrent``, a callback and the core
``ThreeFactor`` rule). The fused kernel of :mod:`biosim.reservoir.readout` is tested to give
the same result; this path is the reference, the kernel is for speed."""
from __future__ import annotations

import numpy as np

from biosim.core import ArrayCurrent, Network, Population
from biosim.core import validation as check
from biosim.core.connectivity import all_to_all
from biosim.neurons.izhikevich import izhikevich_step
from biosim.reservoir.reservoir import Reservoir, Synapses, filter_step


class ReservoirPopulation(Population):
    """The neurons of a :class:`~biosim.reservoir.Reservoir`: activity = filtered spike
    trains r (1/ms), so that a projection with weights W delivers I_syn = W^T r; spikes are
    in ``state["spikes"]``. Input ``I`` (model units) is added to the per-neuron bias.
    Activity kinds ``("rate", "spikes")``: spike and rate monitors read the spikes."""

    input_names = ("I",)
    activity_kinds = ("rate", "spikes")

    def __init__(self, reservoir, name="reservoir"):
        if not isinstance(reservoir, Reservoir):
            check.fail("reservoir", "a biosim.reservoir.Reservoir", type(reservoir).__name__)
        super().__init__(reservoir.n, name)
        self.res = reservoir
        st = reservoir.state
        self.state = {k: st[k].copy() for k in ("v", "u", "r", "hr", "spikes")}
        self.activity = self.state["r"]

    def step(self, t, dt):
        res, s = self.res, self.state
        izhikevich_step(s["v"], s["u"], res.a, res.b, res.c, res.d, self.inputs["I"] + res.bias_,
                        s["spikes"], dt, res.quadratic, res.scheme == "published")
        filter_step(s["r"], s["hr"], s["spikes"], Synapses(dt, res.tau_rise, res.tau_decay))


class LinearReadout(Population):
    """Linear units: activity y = the summed input of this step (kind ``"analog"``)."""

    input_names = ("I",)
    activity_kinds = ("analog",)

    def step(self, t, dt):
        self.activity[:] = self.inputs["I"]


def build_network(reservoir, readout, inputs, targets, window):
    """A Network equal to ``readout.trial(reservoir, inputs, targets, window)`` (all
    readouts online, one learning rate, uncentred features). Returns (net, readout
    projection, outputs list)."""
    if readout.center:
        check.fail("center", "False on the generic Network path", True)
    dt = reservoir.dt
    net = Network(dt=dt, seed=0)
    res = net.add(ReservoirPopulation(reservoir))
    out = net.add(LinearReadout(readout.n_outputs, name="readout"))
    net.connect(res, res, all_to_all(), weight=reservoir.W)
    W0 = np.zeros((reservoir.n, readout.n_outputs)) if getattr(readout, "W_", None) is None \
        else readout.W_.T
    proj = net.connect(res, out, all_to_all(), weight=W0, rule=readout.rule(dt, reservoir.n))
    net.add(ArrayCurrent(res, reservoir.currents(inputs)))
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
