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

import weakref

import numpy as np

from biosim.core import fastrandom
from biosim.core.network import Network
from biosim.core.plasticity import TripletSTDP, normalize_incoming, trace_table
from biosim.core.population import PoissonGroup
from biosim.core.validation import array, fail, integer
from biosim.neurons.lif import LIF
from biosim.vpr import snn_numba as sn
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
    if p.timer_rate <= 0.0:
        fail("params.timer_rate", "> 0 (a timer that never grows holds every excitatory "
                                  "neuron silent; 1.0 is a plain refractory period)",
             p.timer_rate)
    mod = module or init_module(n_input, n_e, p, seed)
    W = array("module.W", mod["W"], shape=(n_input, n_e), low=0.0)
    delays = array("module.delays", mod["delays"], shape=(n_input, n_e), dtype=np.int64, low=0)
    if source is not None and getattr(source, "n", None) != n_input:
        fail("source", f"a spike population of n_input = {n_input} units",
             getattr(source, "n", source))
    net = Network(dt=p.dt, seed=seed)
    inp = net.add(source if source is not None else PoissonGroup(n_input, 0.0, name="input"))
    exc = net.add(LIF(n_e, tau_m=p.tau_e, v_rest=p.v_rest_e, v_reset=p.v_reset_e,
                      v_thresh=p.v_thresh_e, refractory=_refractory(p.refrac_e, p.dt),
                      conductance=True, E_e=p.e_exc, E_i=p.e_inh_e, tau_e=p.tau_ge,
                      tau_i=p.tau_gi, theta_plus=p.theta_plus, tau_theta=p.tau_theta,
                      offset=p.offset, timer_rate=p.timer_rate,
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


def present(net: Network, pixels, train: bool, params: SNNParams | None = None,
            fused: bool | None = None, repeats=None) -> np.ndarray:
    """Show the images (rows of grey levels 0-255) one after the other, as the kernel does:
    before each training image the input weights are normalised to ``weight_sum`` per
    excitatory neuron; ``present_time`` ms at ``pixel * rate_scale`` Hz (a Poisson input;
    a given ``source`` plays its own trains), then ``rest_time`` ms of silence. With
    ``train`` False the weights and thresholds are frozen. Returns the spike counts
    (n_images, n_e) of the excitatory neurons during each presentation.

    ``params`` must be those the network was built with. ``fused``: run the presentations
    in the event-driven kernel :func:`~biosim.vpr.snn_numba.run_images` on the network's
    own arrays (weights, thresholds, neuron state and the rule's traces are handed over
    and back; the default when the network allows it: a Poisson input and a quiet network
    at the start, see :func:`fused_state`), or in the generic :meth:`Network.run` loop
    (False). The generic loop draws each call's Poisson trains from one
    :mod:`~biosim.core.fastrandom` stream seeded from the input's generator, image after
    image, input after input (:meth:`~biosim.PoissonGroup.draw_block`), as the kernel does.
    The fused path feeds no monitors (the kernel returns counts only); ``repeats``: an int64
    array (one entry per image) that receives how often each image was shown again
    (``params.min_spikes``, fused path only)."""
    p = params or SNNParams()
    exc, proj, mon = net["exc"], net["input->exc"], net["exc.spikes"]
    inp = proj.pre
    pixels = np.atleast_2d(array("pixels", pixels, low=0.0, high=255.0))
    ready = isinstance(inp, PoissonGroup) and _quiet(net)
    if fused and not ready:
        fail("fused", "a Poisson input and a network without spikes in flight (start "
                      "between presentations), or fused=None", fused)
    if p.min_spikes > 0 and not (ready and fused is not False):
        fail("params.min_spikes", "0 outside the fused kernel (only run_images re-presents "
             "quiet images)", p.min_spikes)
    net.modulators["learning"] = 1.0 if train else 0.0
    exc.adapt_threshold = bool(train)
    if ready and fused is not False:
        return _present_fused(net, pixels, bool(train), p, repeats)
    counts = np.zeros((len(pixels), exc.n), np.int64)
    poisson = isinstance(inp, PoissonGroup)
    if poisson:  # one stream a call, as the kernel draws it
        stream = fastrandom.seed_state(inp._rng)
        inp.set_rates(0.0)
    for k, img in enumerate(pixels):
        if train and p.weight_sum > 0.0:
            normalize_incoming(proj.weights, p.weight_sum)
        if poisson:
            inp.draw_block(img * p.rate_scale, p.present_steps, p.dt, stream)
        before = mon.count
        net.run(p.present_steps * p.dt)
        counts[k] = mon.count - before
        net.run(p.rest_steps * p.dt)
    return counts


# ---------------------------------------------------------------- the fused path
def _quiet(net: Network) -> bool:
    """No spike of the last step and no input spike still travelling: what the kernel
    (which starts every image from its own Poisson draws) can take over exactly."""
    proj = net["input->exc"]
    hist = proj.history
    return not (net["exc"].activity.any() or net["inh"].activity.any()
                or proj.pre.activity.any() or (hist is not None and hist.any()))


#: per projection: (its delay array, the kernel's delay buckets of it), kept while the
#: projection holds the same delay array (delays do not change in place)
_BUCKETS = weakref.WeakKeyDictionary()


def _buckets(proj, delays, delay_steps):
    """The kernel's (order, dptr) for these delays, computed once per delay array."""
    hit = _BUCKETS.get(proj)
    if hit is None or hit[0] is not proj.delay or hit[1] != delay_steps:
        hit = (proj.delay, delay_steps, sn.delay_buckets(delays, delay_steps))
        _BUCKETS[proj] = hit
    return hit[2]


def fused_state(net: Network, params: SNNParams) -> tuple:
    """The kernel's :class:`~biosim.vpr.snn_numba.Module` and
    :class:`~biosim.vpr.snn_numba.State` of a quiet VPRSNN network: weights and thresholds
    are views of the network's arrays; times are the network's steps (``clock`` = the next
    step). The LIF's refractory time left (ms) becomes the step the kernel frees the neuron
    at; the rule's last spike times become the kernel's (for each input its last emission:
    with nothing in flight every synapse of the input has received it)."""
    p = params
    exc, inh, proj = net["exc"], net["inh"], net["input->exc"]
    rule, n_in, n_e = proj.rule, proj.pre.n, exc.n
    now = net.step_count
    W = proj.weights.data.reshape(n_in, n_e)   # all-to-all CSR: synapse i n_e + j
    d = proj.delay   # per synapse, or one delay for all
    delays = d.reshape(n_in, n_e) if d.ndim else np.full((n_in, n_e), int(d), np.int64)
    mod = sn.Module(W, exc.state["theta"], delays, *_buckets(proj, delays, p.delay_steps))
    trace = rule.state_ or {}
    offset = int(trace["clock"][0]) - now if trace else 0
    never = -(np.int64(1) << 60)
    em_hist = np.full((n_in, sn.EMISSION_HISTORY), never)
    em_pos = np.zeros(n_in, np.int64)
    last_post = np.full(n_e, never)
    if trace:
        emitted = (trace["last_arrival"] - rule.delay_).reshape(n_in, n_e).max(axis=1)
        seen = emitted > never // 2
        em_hist[seen, 0] = emitted[seen] - offset
        em_pos[seen] = 1
        fired = trace["last_post"] > never // 2
        last_post[fired] = trace["last_post"][fired] - offset

    def freed(pop):
        return now + np.rint(pop.state["refractory"] / p.dt).astype(np.int64)

    s_e, s_i = exc.state, inh.state
    st = sn.State(s_e["v"], s_e["ge"], s_e["gi"], s_e["timer"], freed(exc), s_i["v"],
                  s_i["ge"], s_i["gi"], freed(inh), last_post, em_hist, em_pos,
                  np.array([now], np.int64))
    return mod, st


def kernel_state(net: Network, params: SNNParams) -> dict:
    """A copy of the kernel's :class:`~biosim.vpr.snn_numba.State` of a quiet VPRSNN network
    as a dict of arrays (:func:`~biosim.vpr.snn_numba.fresh_state`'s form: what
    ``NumbaVPRSNN.training_state`` saves); :func:`set_kernel_state` puts it back."""
    st = fused_state(net, params)[1]
    return {f: np.array(getattr(st, f)) for f in sn.State._fields}


def set_kernel_state(net: Network, saved: dict, params: SNNParams) -> None:
    """Set a VPRSNN network's dynamic state from a :func:`kernel_state` dict (or one of
    :func:`~biosim.vpr.snn_numba.fresh_state`'s form); weights and thresholds stay."""
    exc, inh = net["exc"], net["inh"]
    for pop, side in ((exc, "e"), (inh, "i")):
        for var in ("v", "ge", "gi"):
            pop.state[var][:] = saved[f"{var}_{side}"]
    exc.state["timer"][:] = saved["timer"]
    st = sn.State(*(np.array(saved[f]) for f in sn.State._fields))
    _settle(net, st, params)


def _settle(net: Network, st, params: SNNParams) -> None:
    """Hand the kernel's state back to the network after whole presentations (the inverse
    of :func:`fused_state`). The kernel has delivered and learned from every spike up to
    the last step (its conductances hold this step's arrivals, which the generic loop would
    deliver in the next), so activities, histories and the rule's pending events are
    cleared."""
    exc, inh, proj = net["exc"], net["inh"], net["input->exc"]
    rule, n_in, n_e = proj.rule, proj.pre.n, exc.n
    now = int(st.clock[0])
    steps = now - net.step_count
    for pop, free in ((exc, st.refr_e), (inh, st.refr_i)):
        pop.state["refractory"][:] = np.maximum(free - now, 0) * params.dt
        pop.activity[:] = False
    proj.pre.activity[:] = False
    if proj.history is not None:
        proj.history[:] = 0.0
    trace = rule._state(proj.weights, n_in, n_e)._asdict()   # allocated if never used
    offset = int(trace["clock"][0]) - net.step_count
    never = -(np.int64(1) << 60)
    last = st.em_hist[np.arange(n_in), (st.em_pos - 1) & (sn.EMISSION_HISTORY - 1)]
    arrival = (last[:, None] + rule.delay_.reshape(n_in, n_e)).ravel() + offset
    trace["last_arrival"][:] = np.where(np.repeat(st.em_pos > 0, n_e), arrival, never)
    trace["last_post"][:] = np.where(st.last_post > never // 2, st.last_post + offset, never)
    trace["ring"][:] = False
    trace["prev_post"][:] = False
    trace["clock"][0] += steps
    net.step_count = now


def _present_fused(net: Network, pixels, train: bool, p: SNNParams, repeats=None) -> np.ndarray:
    exc, proj = net["exc"], net["input->exc"]
    mod, st = fused_state(net, p)
    k = sn.kernel_constants(p)
    tabs = sn.Tables(*(trace_table(tau, p.dt) for tau in (p.tau_pre, p.tau_post1, p.tau_post2)))
    counts = np.zeros((len(pixels), exc.n), np.int64)
    stream = fastrandom.seed_state(proj.pre._rng)   # one a call, as the generic path
    if repeats is None:
        repeats = np.zeros(len(pixels), np.int64)
    sn.run_images(np.ascontiguousarray(pixels), mod, st, k, tabs, train, stream, counts,
                  repeats)
    _settle(net, st, p)   # v, conductances, timer, theta, W: the kernel wrote them in place
    return counts
