"""VPRSNN built from core objects: one module as a :class:`biosim.Network`.

The network :mod:`biosim.vpr.snn_numba` runs in one event-driven kernel, assembled from the
pieces every family shares (constants: :class:`~biosim.vpr.snn_numba.SNNParams`):

- ``input``: a :class:`~biosim.PoissonGroup` of ``n_input`` units at ``pixel * rate_scale``
  Hz (:func:`present` sets the rates of each image, 0 during the rest);
- ``exc``: conductance-based :class:`~biosim.LIF` neurons with the adaptive threshold
  (``theta_plus``, ``tau_theta``, ``offset``) and Diehl & Cook's timer quirk;
- ``inh``: conductance-based :class:`~biosim.LIF` neurons;
- ``input->exc``: all-to-all, each synapse with its delay, learning by
  :class:`~biosim.TripletSTDP` (modulator ``"learning"``: 1 when training, 0 when testing),
  input weights normalised per excitatory neuron before every training image
  (:func:`~biosim.normalize_incoming`);
- ``exc->inh`` one-to-one (``w_ei``) and ``inh->exc`` all-but-self (``w_ie``).

Stepped by :meth:`Network.run`'s generic loop this is the reference the fused kernel
(:func:`biosim.vpr.snn_numba.run_images`) is tested against (``tests/vpr/test_snn_network.py``:
the same spikes and weights from the same input spike trains).
"""
from __future__ import annotations

import numpy as np

from biosim.core.network import Network
from biosim.core.plasticity import TripletSTDP, normalize_incoming
from biosim.core.population import PoissonGroup
from biosim.core.validation import array, integer
from biosim.neurons.lif import LIF
from biosim.vpr.snn_numba import INITIAL_REST, SNNParams, init_module


def _refractory(ms: float, dt: float) -> float:
    """The LIF refractory period that clamps as the kernel does (``round(ms / dt) - 1``
    steps after the spike: Brian2 counts the step of the spike)."""
    return max(int(round(ms / dt)) - 1, 0) * dt


def vprsnn_network(params: SNNParams | None = None, n_input: int = 784, n_e: int = 400,
                   seed=None, module: dict | None = None, source=None) -> Network:
    """One VPRSNN module as a Network, in the state :func:`~biosim.vpr.snn_numba.fresh_state`
    describes (after the initial 500 ms rest).

    ``module``: ``{"W", "delays", "theta"}`` (weights (n_input, n_e), delays in steps,
    thresholds in mV) as :func:`~biosim.vpr.snn_numba.init_module` draws them (the default,
    from ``seed``); ``source``: a spike population of ``n_input`` units to use instead of
    the Poisson input (e.g. a :class:`~biosim.SpikeGenerator` replaying given trains).
    """
    p = params or SNNParams()
    n_input, n_e = integer("n_input", n_input, low=1), integer("n_e", n_e, low=1)
    mod = module or init_module(n_input, n_e, p, seed)
    W = array("module.W", mod["W"], shape=(n_input, n_e), low=0.0)
    delays = array("module.delays", mod["delays"], shape=(n_input, n_e), dtype=np.int64, low=0)
    net = Network(dt=p.dt, seed=seed)
    inp = net.add(source if source is not None else PoissonGroup(n_input, 0.0, name="input"))
    if inp.n != n_input:
        array("source", np.zeros(inp.n), shape=(n_input,))
    exc = net.add(LIF(n_e, tau_m=p.tau_e, v_rest=p.v_rest_e, v_reset=p.v_reset_e,
                      v_thresh=p.v_thresh_e, refractory=_refractory(p.refrac_e, p.dt),
                      conductance=True, E_e=p.e_exc, E_i=p.e_inh_e, tau_e=p.tau_ge,
                      tau_i=p.tau_gi, theta_plus=p.theta_plus, tau_theta=p.tau_theta,
                      offset=p.offset, timer_rate=p.timer_rate or None,
                      timer_min=p.refrac_e, name="exc"))
    exc.state["theta"][:] = array("module.theta", mod["theta"], shape=(n_e,))
    exc.state["timer"][:] = p.timer_rate * INITIAL_REST
    inh = net.add(LIF(n_e, tau_m=p.tau_i, v_rest=p.v_rest_i, v_reset=p.v_reset_i,
                      v_thresh=p.v_thresh_i, refractory=_refractory(p.refrac_i, p.dt),
                      conductance=True, E_e=p.e_exc, E_i=p.e_inh_i, tau_e=p.tau_ge,
                      tau_i=p.tau_gi, name="inh"))
    sign = 1.0 if p.stdp == "vprsnn" else -1.0
    rule = TripletSTDP(nu_pre=-sign * p.nu_pre, nu_post=p.nu_post, tau_pre=p.tau_pre,
                       tau_post1=p.tau_post1, tau_post2=p.tau_post2, w_min=0.0,
                       w_max=p.w_max, modulators="learning")
    net.connect(inp, exc, weight=W, delay=delays.ravel() * p.dt, target="ge", sparse=True,
                rule=rule, name="input->exc")
    net.connect(exc, inh, weight=p.w_ei * np.eye(n_e), target="ge", name="exc->inh")
    net.connect(inh, exc, weight=p.w_ie * (1.0 - np.eye(n_e)), target="gi", name="inh->exc")
    net.monitor(exc, "spikes", name="exc.spikes")
    net.modulators["learning"] = 1.0
    return net


def present(net: Network, pixels, train: bool, params: SNNParams | None = None) -> np.ndarray:
    """Show the images (rows of grey levels 0-255) one after the other, as the kernel does:
    before each training image the input weights are normalised to ``weight_sum`` per
    excitatory neuron; ``present_time`` ms at ``pixel * rate_scale`` Hz (a Poisson input;
    a given ``source`` plays its own trains), then ``rest_time`` ms of silence. With
    ``train`` False the weights and thresholds are frozen. Returns the spike counts
    (n_images, n_e) of the excitatory neurons during each presentation."""
    p = params or SNNParams()
    exc, proj, mon = net["exc"], net["input->exc"], net["exc.spikes"]
    inp = proj.pre
    pixels = np.atleast_2d(array("pixels", pixels, low=0.0, high=255.0))
    net.modulators["learning"] = 1.0 if train else 0.0
    exc.adapt_threshold = bool(train)
    counts = np.zeros((len(pixels), exc.n), np.int64)
    for k, img in enumerate(pixels):
        if train and p.weight_sum > 0.0:
            normalize_incoming(proj.weights, p.weight_sum)
        if isinstance(inp, PoissonGroup):
            inp.set_rates(img * p.rate_scale)
        before = mon.count
        net.run(p.present_steps * p.dt)
        counts[k] = mon.count - before
        if isinstance(inp, PoissonGroup):
            inp.set_rates(0.0)
        net.run(p.rest_steps * p.dt)
    return counts
