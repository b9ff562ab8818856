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

:meth:`Network.run` runs it in the event-driven kernel
:func:`biosim.vpr.snn_numba.run_steps` (the input, a :class:`VPRSNNInput`, picks
:func:`fused_runner`, as Izhikevich populations pick theirs) and :func:`present` runs
whole presentations in :func:`biosim.vpr.snn_numba.run_images`; both are tested against the
generic loop (``fused=False``) in ``tests/vpr/test_snn_network.py``: the same spikes,
weights and state, bit for bit.
"""
from __future__ import annotations

import weakref

import numpy as np

from biosim.core import fastrandom
from biosim.core.network import Network
from biosim.core.plasticity import TripletSTDP, normalize_incoming, trace_table
from biosim.core.monitors import SpikeMonitor
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
    inp = net.add(source if source is not None else VPRSNNInput(n_input, p))
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
    own arrays (weights, thresholds, neuron state, pending spikes and the rule's traces
    are handed over and back; the default when the network allows it: a Poisson input,
    see :func:`fused_state`), or in the generic loop (False: ``Network.run(fused=False)``).
    The generic loop draws each call's Poisson trains from one
    :mod:`~biosim.core.fastrandom` stream seeded from the input's generator, image after
    image, input after input (:meth:`~biosim.PoissonGroup.draw_block`), as the kernel does.
    The fused path feeds no monitors (the kernel returns counts only); ``repeats``: an int64
    array (one entry per image) that receives how often each image was shown again
    (``params.min_spikes``, fused path only)."""
    p = params or SNNParams()
    exc, proj, mon = net["exc"], net["input->exc"], net["exc.spikes"]
    inp = proj.pre
    pixels = np.atleast_2d(array("pixels", pixels, low=0.0, high=255.0))
    net.modulators["learning"] = 1.0 if train else 0.0
    exc.adapt_threshold = bool(train)
    state = fused_state(net, p, bool(train)) if isinstance(inp, PoissonGroup) else None
    if fused and state is None:
        fail("fused", "a Poisson input and no input spike in flight that arrived while "
                      "learning was off, or fused=None", fused)
    if p.min_spikes > 0 and not (state is not None and fused is not False):
        fail("params.min_spikes", "0 outside the fused kernel (only run_images re-presents "
             "quiet images)", p.min_spikes)
    if state is not None and fused is not False:
        return _present_fused(net, pixels, bool(train), p, state, repeats)
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
        net.run(p.present_steps * p.dt, fused=False)
        counts[k] = mon.count - before
        net.run(p.rest_steps * p.dt, fused=False)
    return counts


# ---------------------------------------------------------------- the fused path
class VPRSNNInput(PoissonGroup):
    """VPRSNN's Poisson input (a :class:`~biosim.PoissonGroup`). As the first population of
    a :func:`vprsnn_network` it makes :meth:`Network.run` run the network in the kernel
    :func:`~biosim.vpr.snn_numba.run_steps` (:func:`fused_runner`), as Izhikevich
    populations pick theirs. ``params``: the network's :class:`SNNParams`."""

    fused_mixed = True   # the runner checks the other populations

    def __init__(self, n: int, params: SNNParams, name: str | None = "input"):
        super().__init__(n, 0.0, name)
        if not isinstance(params, SNNParams):
            fail("params", "an SNNParams (the network's constants)", type(params).__name__)
        self.params = params

    @classmethod
    def fused_runner(cls, net):
        return fused_runner(net)


def _train(net: Network):
    """True (learning), False (frozen), or None when the rule and the thresholds disagree
    (the kernel learns both or neither)."""
    learn = net.modulators.get("learning")
    adapt = net["exc"].adapt_threshold
    if learn == 1.0 and adapt:
        return True
    if learn == 0.0 and not adapt:
        return False
    return None


def fused_runner(net: Network):
    """``advance(n_steps)`` running a :func:`vprsnn_network` in
    :func:`~biosim.vpr.snn_numba.run_steps`, or None when the network holds something the
    kernel does not run (other populations, projections, callbacks, inputs or monitors than
    the excitatory spike monitor; the learning modulator other than 1 with adaptive
    thresholds or 0 without). The input spikes are those the group's own steps would fire
    (:meth:`~biosim.PoissonGroup.take`); spikes, weights, thresholds and state equal the
    generic loop's (``tests/vpr/test_snn_network.py``). A chunk whose start the kernel
    cannot represent (learning switched on while input spikes that arrived without it are
    within an emission history) runs in the generic loop."""
    names = [pop.name for pop in net.populations]
    if names != ["input", "exc", "inh"] or net.callbacks or net.inputs:
        return None
    inp, exc, inh = net.populations
    if not (isinstance(inp, VPRSNNInput) and type(exc) is LIF and type(inh) is LIF):
        return None
    if [pr.name for pr in net.projections] != ["input->exc", "exc->inh", "inh->exc"]:
        return None
    if not isinstance(net["input->exc"].rule, TripletSTDP) or _train(net) is None:
        return None
    mons = net.monitors
    if any(type(m) is not SpikeMonitor or m.source is not exc for m in mons):
        return None
    p = inp.params
    if not _holds_params(net, p):
        return None
    k = sn.kernel_constants(p)
    tabs = _tables(p)

    def advance(n_steps: int) -> None:
        train = _train(net)
        state = fused_state(net, p, train)
        if state is None:
            net._run_generic(n_steps)
            return
        mod, st = state
        ids, ptr = inp.take(n_steps, net.dt)
        room = exc.n * (n_steps // max(k.refrac_e_steps, 1) + 1) if mons else 0
        out = sn.Out(np.zeros(exc.n, np.int64), np.empty(room, np.int64),
                     np.empty(room, np.int64), np.zeros(1, np.int64))
        sn.run_steps(mod, st, k, tabs, train, sn.Trains(ids, ptr, net.step_count), n_steps,
                     out)
        n = out.n[0]
        for m in mons:  # copies: a view would keep the whole scratch buffer alive
            m.add_block(out.steps[:n].copy(), out.idx[:n].copy(), net.dt)
        _settle(net, st, p, train)

    return advance


_LIF_PARAMS = ("conductance", "tau_m", "v_rest", "v_reset", "v_thresh", "R", "refractory",
               "E_e", "E_i", "tau_e", "tau_i", "theta_plus", "tau_theta", "offset",
               "timer_rate", "timer_min")


def _holds_params(net: Network, p: SNNParams) -> bool:
    """Whether the neurons, the rule and the fixed projections are still those
    :func:`vprsnn_network` built from ``p``: the kernel takes every constant from ``p``, so
    a network edited since (other inhibition weights, another rate, another threshold)
    runs in the generic loop."""
    n_e = net["exc"].n
    ref = vprsnn_network(p, 1, n_e, module={"W": np.zeros((1, n_e)),
                                            "delays": np.zeros((1, n_e), np.int64),
                                            "theta": np.zeros(n_e)})
    for name in ("exc", "inh"):
        if any(getattr(net[name], a) != getattr(ref[name], a) for a in _LIF_PARAMS):
            return False
    rule, ref_rule = net["input->exc"].rule, ref["input->exc"].rule
    if any(getattr(rule, a) != getattr(ref_rule, a)
           for a in ("nu_pre", "nu_post", "taus", "w_min", "w_max", "modulators")):
        return False
    for name in ("input->exc", "exc->inh", "inh->exc"):
        if net[name].target != ref[name].target:
            return False
    return all(np.array_equal(net[name].weights.W, ref[name].weights.W)
               and np.array_equal(net[name].delay, ref[name].delay)
               for name in ("exc->inh", "inh->exc"))


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


def _tables(p: SNNParams):
    return sn.Tables(*(trace_table(tau, p.dt) for tau in (p.tau_pre, p.tau_post1, p.tau_post2)))


def _fired(net: Network, e: int) -> np.ndarray:
    """The input units that fired in step e (one of the last max_delay + 1 steps)."""
    proj = net["input->exc"]
    if proj.history is not None:
        return np.flatnonzero(proj.history[e % proj.history.shape[0]])
    return np.flatnonzero(proj.pre.activity) if e == net.step_count - 1 else np.zeros(0, int)


def fused_state(net: Network, params: SNNParams, train: bool = True):
    """The kernel's :class:`~biosim.vpr.snn_numba.Module` and
    :class:`~biosim.vpr.snn_numba.State` of a VPRSNN network at any step: weights and
    thresholds are views of the network's arrays; times are the network's steps
    (``clock`` = the next step). The LIF's refractory time left (ms) becomes the step the
    kernel frees the neuron at; the last step's spikes are the kernel's pending ones; the
    input's recent spikes (the projection's history) its input ring; the rule's last
    arrival of each synapse and, when ``train``, the input spikes still in flight its
    emission history. None when that history cannot give back every synapse's last arrival
    (an input spike that arrived while learning was off, or more than
    ``EMISSION_HISTORY`` distinct ones)."""
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
    n_ring = p.delay_steps + 1
    in_ids = np.zeros((n_ring, n_in), np.int64)
    in_n = np.zeros(n_ring, np.int64)
    window = proj.max_delay + 1
    flying = []
    for e in range(max(now - window, 0), now):
        fired = _fired(net, e)
        in_ids[e % n_ring, :fired.size] = fired
        in_n[e % n_ring] = fired.size
        flying.append((e, fired))
    # emission history: each synapse's last arrival (as the emission it came from), then,
    # when learning, the spikes in flight (their arrivals will be learned from)
    em_hist = np.full((n_in, sn.EMISSION_HISTORY), sn.NEVER)
    em_pos = np.zeros(n_in, np.int64)
    last_arrival = emitted = None
    mixed = np.zeros(n_in, bool)
    if trace:
        last_arrival = trace["last_arrival"].reshape(n_in, n_e)
        emitted = last_arrival - (delays + offset)   # never stays below sn.NEVER // 2
        hi, lo = emitted.max(axis=1), emitted.min(axis=1)
        seen = hi > sn.NEVER // 2
        one = seen & (hi == lo)   # every synapse got the same last spike
        em_hist[one, 0] = hi[one]
        em_pos[one] = 1
        mixed = seen & (hi != lo)
    new = {}
    if train:
        for e, fired in flying:
            for i in fired:
                new.setdefault(i, []).append(e)
    for i in set(np.flatnonzero(mixed)) | set(new):
        got = emitted[i][emitted[i] > sn.NEVER // 2] if emitted is not None else []
        got = np.unique(np.concatenate([got, new.get(i, [])]).astype(np.int64))
        got = got[-sn.EMISSION_HISTORY:]
        em_hist[i] = sn.NEVER
        em_hist[i, :got.size] = got
        em_pos[i] = got.size
    if train and last_arrival is not None and not sn.arrivals_agree(
            em_hist, em_pos, delays, now - 2, offset, last_arrival):
        return None   # what the kernel would hand back is not the rule's
    last_post = np.full(n_e, sn.NEVER)
    if trace:
        fired = trace["last_post"] > sn.NEVER // 2
        last_post[fired] = trace["last_post"][fired] - offset

    def freed(pop):
        return now + np.rint(pop.state["refractory"] / p.dt).astype(np.int64)

    s_e, s_i = exc.state, inh.state
    st = sn.State(s_e["v"], s_e["ge"], s_e["gi"], s_e["timer"], freed(exc), s_i["v"],
                  s_i["ge"], s_i["gi"], freed(inh), last_post, em_hist, em_pos,
                  np.array([now], np.int64), exc.activity.copy(), inh.activity.copy(),
                  in_ids, in_n)
    return mod, st


def kernel_state(net: Network, params: SNNParams) -> dict:
    """A copy of the kernel's :class:`~biosim.vpr.snn_numba.State` of a VPRSNN network as a
    dict of arrays (:func:`~biosim.vpr.snn_numba.fresh_state`'s form: what
    ``NumbaVPRSNN.training_state`` saves); :func:`set_kernel_state` puts it back."""
    state = fused_state(net, params)
    if state is None:
        fail("net", "a VPRSNN network whose input spikes in flight arrived with learning on "
                    "(save between presentations)", "learning switched on mid-flight")
    return {f: np.array(getattr(state[1], f)) for f in sn.State._fields}


def set_kernel_state(net: Network, saved: dict, params: SNNParams) -> None:
    """Set a VPRSNN network's dynamic state from a :func:`kernel_state` dict (or one of
    :func:`~biosim.vpr.snn_numba.fresh_state`'s form; one saved before the pending spikes
    and the input ring were part of it has none); weights and thresholds stay."""
    exc, inh = net["exc"], net["inh"]
    for pop, side in ((exc, "e"), (inh, "i")):
        for var in ("v", "ge", "gi"):
            pop.state[var][:] = saved[f"{var}_{side}"]
    exc.state["timer"][:] = saved["timer"]
    empty = sn.fresh_state(net["input"].n, exc.n, params)
    st = sn.State(*(np.array(saved.get(f, empty[f])) for f in sn.State._fields))
    _settle(net, st, params, True)


def _settle(net: Network, st, params: SNNParams, train: bool) -> None:
    """Hand the kernel's state back to the network (the inverse of :func:`fused_state`):
    refractory times, the pending spikes as activities, the input ring as the projection's
    history and the rule's, and, when ``train``, the rule's last spike times."""
    exc, inh, proj = net["exc"], net["inh"], net["input->exc"]
    rule, n_in, n_e = proj.rule, proj.pre.n, exc.n
    now = int(st.clock[0])
    steps = now - net.step_count
    for pop, free, fired in ((exc, st.refr_e, st.fired_e), (inh, st.refr_i, st.fired_i)):
        pop.state["refractory"][:] = np.maximum(free - now, 0) * params.dt
        pop.activity[:] = fired
    n_ring = st.in_n.size

    def spikes(e):
        return st.in_ids[e % n_ring, :st.in_n[e % n_ring]] if e >= 0 else np.zeros(0, int)

    proj.pre.activity[:] = False
    proj.pre.activity[spikes(now - 1)] = True
    trace = rule._state(proj.weights, n_in, n_e)._asdict()   # allocated if never used
    offset = int(trace["clock"][0]) - net.step_count
    ring = trace["ring"]
    for e in range(now - ring.shape[0], now):   # ring and history: max_delay + 1 rows
        ring[(e + offset) % ring.shape[0]] = False
        ring[(e + offset) % ring.shape[0], spikes(e)] = True
        if proj.history is not None:
            proj.history[e % proj.history.shape[0]] = ring[(e + offset) % ring.shape[0]]
    trace["prev_post"][:] = st.fired_e
    if train:
        sn.last_arrivals(st.em_hist, st.em_pos, rule.delay_.reshape(n_in, n_e), now - 2,
                         offset, trace["last_arrival"].reshape(n_in, n_e))
        trace["last_post"][:] = np.where(st.last_post > sn.NEVER // 2, st.last_post + offset,
                                         sn.NEVER)
    trace["clock"][0] += steps
    net.step_count = now


def _present_fused(net: Network, pixels, train: bool, p: SNNParams, state,
                   repeats=None) -> np.ndarray:
    exc, inp = net["exc"], net["input"]
    mod, st = state
    counts = np.zeros((len(pixels), exc.n), np.int64)
    stream = fastrandom.seed_state(inp._rng)   # one a call, as the generic path
    if repeats is None:
        repeats = np.zeros(len(pixels), np.int64)
    sn.run_images(np.ascontiguousarray(pixels), mod, st, sn.kernel_constants(p), _tables(p),
                  train, stream, counts, repeats)
    _settle(net, st, p, train)   # v, conductances, timer, theta, W: written in place
    inp.set_rates(0.0)
    inp._block = None
    return counts
