"""The VPRSNN network (Hussaini, Milford & Fischer, RA-L 2022), event-driven in numba.

784 Poisson inputs (rate = pixel * ``rate_scale`` Hz, i.e. pixel / 4) -> ``n_e``
conductance-based LIF excitatory neurons with adaptive thresholds <-> ``n_e`` inhibitory
neurons (one-to-one excitation, all-but-self lateral inhibition), after Diehl & Cook (2015)
as VPRSNN ran it in Brian2 (``method='euler'``). Constants: references.md section 6.

Per time step, in Brian2's order: state update (Euler; conductances decay by
``1 - dt / tau``, which keeps each synaptic event's total conductance at exactly
``w * tau``), thresholds, synaptic events (input arrivals after their delay, exc -> inh,
inh -> exc), resets. Only what fired is propagated. Training: each step, the input
spikes fired ``d`` steps earlier reach the synapses of delay ``d`` (targets pre-sorted
by delay), so each arrival sees the weight and traces of its own time step; a post spike
updates the 784 weights of its neuron. Test (frozen weights): an input spike adds
``w`` to a ring buffer of future conductance at once. Poisson inputs are drawn as
geometric gaps between spikes (exactly Bernoulli per step, one draw per spike) by
:func:`biosim.core.fastrandom.poisson_steps`.

Triplet STDP on the input weights (training only), with Brian2's event-driven traces:
on a pre arrival ``w += sign * nu_pre * post1``; on a post spike
``w += nu_post * pre * post2(before)``; ``w`` clipped to [0, w_max]. ``sign`` is +1 in the
Brian2 port VPRSNN used (``stdp="vprsnn"``) and -1 in Diehl & Cook's original
(``stdp="diehl_cook"``). Before every training image each neuron's input weights are
scaled to sum to ``weight_sum``. The timer quirk (``timer`` grows at ``timer_rate`` ms/ms
and must exceed ``refrac_e``) caps a neuron at one spike per 50 ms with VPRSNN's values.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

import numpy as np
from numba import njit

from biosim.core import fastrandom
from biosim.core.io import data_class
from biosim.core.plasticity import TripletTables as Tables, trace_table  # pre, post1, post2
from biosim.core.random import generator_state, make_rng, set_generator_state
from biosim.core.validation import array, choice, fail, integer, number, positive


@data_class
@dataclass(frozen=True)
class SNNParams:
    """VPRSNN's parameters (time in ms, voltage in mV, rates in Hz); all overridable.

    ``dt=0.1`` is the RA-L mode: the time step of VPRSNN's Brian2 code (Brian2's default).
    A 100-place module (400 neurons, 60 epochs of two traverses) then ends where the paper
    says, about 16 spikes per image and thresholds theta 40-43 mV (the paper: 17, 39-42 mV),
    in 4.7 CPU minutes (``benchmarks/vpr_snn_module.py``). The default 0.5 ms is 2.4x
    cheaper, with a different trajectory: the coarse Euler step fires ~8x more in the
    first epoch and the thresholds overshoot to 50 mV, ending at 44-46 mV (README,
    "VPRSNN's time step").
    """

    dt: float = 0.5                 # 0.1: the RA-L mode (VPRSNN's Brian2 time step)
    present_time: float = 350.0
    rest_time: float = 150.0
    rate_scale: float = 0.25        # Hz per grey level: rate = pixel / 4
    # excitatory neurons
    tau_e: float = 100.0
    v_rest_e: float = -65.0
    v_reset_e: float = -65.0
    v_thresh_e: float = -52.0
    offset: float = 20.0
    theta_init: float = 20.0
    theta_plus: float = 0.05
    tau_theta: float = 1e7
    refrac_e: float = 5.0
    timer_rate: float = 0.1         # Diehl & Cook's timer quirk; 1.0: a plain 5 ms refractory
    e_exc: float = 0.0
    e_inh_e: float = -100.0
    tau_ge: float = 1.0
    tau_gi: float = 2.0
    # inhibitory neurons
    tau_i: float = 10.0
    v_rest_i: float = -60.0
    v_reset_i: float = -45.0
    v_thresh_i: float = -40.0
    refrac_i: float = 2.0
    e_inh_i: float = -85.0
    # connections
    w_ei: float = 10.4
    w_ie: float = 17.0
    w_init: float = 0.3
    max_delay: float = 10.0
    # STDP
    tau_pre: float = 20.0
    tau_post1: float = 20.0
    tau_post2: float = 40.0
    nu_pre: float = 1e-4
    nu_post: float = 1e-2
    w_max: float = 1.0
    stdp: str = "vprsnn"
    weight_sum: float = 78.0
    # Diehl & Cook's re-presentation: an image that drew fewer than ``min_spikes`` excitatory
    # spikes is shown again after its rest, ``intensity_step`` Hz per grey level faster
    # each time, at most ``max_repeats`` times (their code: 5 spikes, +1 input intensity =
    # pixel / 8 Hz; the GeNN port stops at intensity 32, i.e. 30 repeats). 0: never, as
    # VPRSNN's released code (``repeat_no_spikes = False``).
    min_spikes: int = 0
    intensity_step: float = 0.125
    max_repeats: int = 30

    def __post_init__(self):
        for f in fields(self):
            if f.name != "stdp":
                number(f.name, getattr(self, f.name))
        for name in ("dt", "present_time", "rate_scale", "tau_e", "tau_ge", "tau_gi", "tau_i",
                     "tau_theta", "tau_pre", "tau_post1", "tau_post2", "w_max", "weight_sum"):
            positive(name, getattr(self, name))
        for name in ("rest_time", "max_delay", "refrac_e", "refrac_i", "timer_rate",
                     "w_init", "nu_pre", "nu_post", "theta_plus", "w_ei", "w_ie"):
            number(name, getattr(self, name), low=0.0)
        choice("stdp", self.stdp, ("vprsnn", "diehl_cook"))
        integer("min_spikes", self.min_spikes, low=0)
        integer("max_repeats", self.max_repeats, low=0)
        number("intensity_step", self.intensity_step, low=0.0)
        if self.rest_time < self.max_delay:
            fail("rest_time", f">= max_delay ({self.max_delay} ms) so that delayed input "
                 "spikes arrive before the next image", self.rest_time)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def present_steps(self) -> int:
        return int(round(self.present_time / self.dt))

    @property
    def rest_steps(self) -> int:
        return int(round(self.rest_time / self.dt))

    @property
    def delay_steps(self) -> int:
        return int(round(self.max_delay / self.dt))


class _K(NamedTuple):
    """Per-step constants handed to the kernel."""

    dt: float
    n_present: int
    n_rest: int
    rate_scale: float
    tau_e: float
    v_rest_e: float
    v_reset_e: float
    v_thresh_e: float
    offset: float
    theta_plus: float
    theta_decay: float
    refrac_e_steps: int
    refrac_e: float
    timer_step: float
    e_exc: float
    e_inh_e: float
    ge_decay: float
    gi_decay: float
    tau_i: float
    v_rest_i: float
    v_reset_i: float
    v_thresh_i: float
    refrac_i_steps: int
    e_inh_i: float
    w_ei: float
    w_ie: float
    nu_pre: float
    nu_post: float
    w_max: float
    sign: float
    weight_sum: float
    min_spikes: int
    intensity_step: float
    max_repeats: int


class Module(NamedTuple):
    """One module's learned arrays as the kernel reads them: weights (n_input, n_e),
    thresholds, delays (steps) and the delay buckets of :func:`delay_buckets`."""

    W: np.ndarray
    theta: np.ndarray
    delays: np.ndarray
    order: np.ndarray
    dptr: np.ndarray


class State(NamedTuple):
    """One module's dynamic state (the arrays of :func:`fresh_state`)."""

    v_e: np.ndarray
    ge_e: np.ndarray
    gi_e: np.ndarray
    timer: np.ndarray
    refr_e: np.ndarray
    v_i: np.ndarray
    ge_i: np.ndarray
    gi_i: np.ndarray
    refr_i: np.ndarray
    last_post: np.ndarray
    em_hist: np.ndarray
    em_pos: np.ndarray
    clock: np.ndarray
    fired_e: np.ndarray   # spikes of the last step, delivered at the start of the next
    fired_i: np.ndarray
    in_ids: np.ndarray    # input spikes of the last delay_steps + 1 steps (row t % rows)
    in_n: np.ndarray


class Trains(NamedTuple):
    """Input spikes: those of step t are ``ids[ptr[t - base]:ptr[t - base + 1]]`` for
    ``base <= t < base + ptr.size - 1``, none outside."""

    ids: np.ndarray
    ptr: np.ndarray
    base: int


class Out(NamedTuple):
    """Where :func:`_steps` writes: spike counts per excitatory neuron (added to) and,
    when ``steps`` has room, each spike's step and neuron (``n[0]`` of them)."""

    counts: np.ndarray
    steps: np.ndarray
    idx: np.ndarray
    n: np.ndarray


def kernel_constants(p: SNNParams) -> _K:
    return _K(p.dt, p.present_steps, p.rest_steps, p.rate_scale, p.tau_e, p.v_rest_e,
              p.v_reset_e, p.v_thresh_e, p.offset, p.theta_plus, 1.0 - p.dt / p.tau_theta,
              int(round(p.refrac_e / p.dt)), p.refrac_e, p.timer_rate * p.dt, p.e_exc,
              p.e_inh_e, 1.0 - p.dt / p.tau_ge, 1.0 - p.dt / p.tau_gi, p.tau_i, p.v_rest_i,
              p.v_reset_i, p.v_thresh_i, int(round(p.refrac_i / p.dt)), p.e_inh_i, p.w_ei,
              p.w_ie, p.nu_pre, p.nu_post, p.w_max, 1.0 if p.stdp == "vprsnn" else -1.0,
              p.weight_sum, p.min_spikes, p.intensity_step, p.max_repeats)


def init_module(n_input: int, n_e: int, params: SNNParams, seed=None) -> dict:
    """Initial weights ``w_init * (U[0,1) + 0.01)``, delays ``U[0, max_delay]`` (in steps)
    and thresholds ``theta_init`` for one module."""
    rng = make_rng(seed)
    W = params.w_init * (rng.random((n_input, n_e)) + 0.01)
    delays = np.rint(rng.random((n_input, n_e)) * params.max_delay / params.dt).astype(np.int64)
    return {"W": W, "delays": delays, "theta": np.full(n_e, params.theta_init)}


INITIAL_REST = 500.0   # ms of silence VPRSNN runs before the first image
EMISSION_HISTORY = 16  # input spike times kept per input (a power of 2), see run_images
NEVER = -(np.int64(1) << 60)  # the step of a spike that never happened


def fresh_state(n_input: int, n_e: int, params: SNNParams) -> dict:
    """The state after VPRSNN's initial 500 ms rest: voltages at rest (within 0.3 mV of it
    after starting 40 mV below), conductances and traces empty, timers at
    ``timer_rate * 500 ms`` (with a zero timer every neuron would be held silent for the
    first 50 ms of the first image and then fire at once)."""
    return {
        "v_e": np.full(n_e, params.v_rest_e), "ge_e": np.zeros(n_e), "gi_e": np.zeros(n_e),
        "timer": np.full(n_e, params.timer_rate * INITIAL_REST),
        "refr_e": np.zeros(n_e, np.int64),
        "v_i": np.full(n_e, params.v_rest_i), "ge_i": np.zeros(n_e), "gi_i": np.zeros(n_e),
        "refr_i": np.zeros(n_e, np.int64),
        "last_post": np.full(n_e, NEVER),
        "em_hist": np.full((n_input, EMISSION_HISTORY), NEVER),
        "em_pos": np.zeros(n_input, np.int64),
        "clock": np.zeros(1, np.int64),
        "fired_e": np.zeros(n_e, np.bool_), "fired_i": np.zeros(n_e, np.bool_),
        "in_ids": np.zeros((params.delay_steps + 1, n_input), np.int64),
        "in_n": np.zeros(params.delay_steps + 1, np.int64),
    }


def delay_buckets(delays: np.ndarray, n_delay: int):
    """For each input, its targets sorted by delay and the start of each delay bucket."""
    small = np.int16 if delays.shape[1] < 2**15 else np.int32   # less memory to read
    order = np.argsort(delays, axis=1, kind="stable")
    sorted_d = np.take_along_axis(delays, order, axis=1)
    ptr = np.stack([np.searchsorted(row, np.arange(n_delay + 2)) for row in sorted_d])
    return order.astype(small), ptr.astype(small)


@njit(cache=True)
def _decay(g, factor):
    """``g * factor``, flushed to 0 below 1e-30 (a decay factor > 0.5 would otherwise
    stick at the smallest subnormal, and subnormal arithmetic is slow)."""
    g *= factor
    return g if g > 1e-30 else 0.0


def poisson_input_counts(pixels, params: SNNParams | None = None, seed=None) -> np.ndarray:
    """Input spike counts (n_images, n_input) over one presentation of each image, drawn
    exactly as :func:`run_images` draws them (for tests of the encoding)."""
    p = params or SNNParams()
    pixels = np.atleast_2d(np.asarray(pixels, dtype=np.float64))
    return _input_counts(pixels, kernel_constants(p), fastrandom.seed_state(make_rng(seed)))


@njit(cache=True)
def _input_counts(pixels, k, rng):
    rs = fastrandom.load(rng)
    n_img, n_in = pixels.shape
    n = n_in * k.n_present
    ids, tmp_step, tmp_id = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    bptr = np.empty(k.n_present + 1, np.int64)
    out = np.zeros((n_img, n_in), np.int64)
    for img in range(n_img):
        rs = fastrandom.poisson_steps(rs, pixels[img] * k.rate_scale, k.dt, k.n_present, ids,
                                      bptr, tmp_step, tmp_id)
        for m in range(bptr[-1]):
            out[img, ids[m]] += 1
    return out


class _Work(NamedTuple):
    """A kernel call's working arrays (:func:`_work`)."""

    Ws: np.ndarray          # weights, in delay order while training (else W)
    pos: np.ndarray         # while training: slot of synapse (j, i) in its row of Ws
    delays_t: np.ndarray    # while training: delays by (j, i)
    fired_e: np.ndarray     # excitatory / inhibitory neurons that fired in the last step
    fired_i: np.ndarray
    is_i: np.ndarray
    post1: np.ndarray
    awake: np.ndarray       # inhibitory neurons being updated, and whether each one is
    is_awake: np.ndarray
    recent: np.ndarray      # neurons whose post1 trace is not 0 (fired within its table)
    is_recent: np.ndarray
    counters: np.ndarray    # fired_e, fired_i, awake, recent: how many
    ring: np.ndarray        # frozen weights: future input conductance per step
    col: np.ndarray
    pairs: np.ndarray       # this step's arrivals: input, first and last + 1 target slot


@njit(cache=True)
def _work(mod, st, k, tabs, train):
    """The working arrays of a call from ``st`` (pending spikes, traces): while training the
    weights are copied into delay order; with frozen weights the input spikes still in
    flight are put into the conductance ring, oldest first (the order of the plain loop)."""
    W, order, delays = mod.W, mod.order, mod.delays
    n_in, n_e = W.shape
    n_delay = mod.dptr.shape[1] - 2
    n_ring = st.in_n.size
    t0 = st.clock[0]
    counters = np.zeros(4, np.int64)
    fired_e, fired_i = np.empty(n_e, np.int64), np.empty(n_e, np.int64)
    for j in range(n_e):
        if st.fired_e[j]:
            fired_e[counters[0]] = j
            counters[0] += 1
        if st.fired_i[j]:
            fired_i[counters[1]] = j
            counters[1] += 1
    awake = np.arange(n_e)
    counters[2] = n_e
    recent = np.empty(n_e, np.int64)
    is_recent = np.zeros(n_e, np.bool_)
    for j in range(n_e):
        if t0 - 1 - st.last_post[j] < tabs.post1.size:
            recent[counters[3]] = j
            counters[3] += 1
            is_recent[j] = True
    Ws, pos, delays_t = W, order, order
    ring = np.zeros((n_delay + 1, n_e))
    if train:
        Ws = np.empty_like(W)
        pos = np.empty((n_e, n_in), order.dtype)
        delays_t = np.empty((n_e, n_in), order.dtype)
        for i in range(n_in):
            for q in range(n_e):
                j = order[i, q]
                Ws[i, q] = W[i, j]
                pos[j, i] = q
                delays_t[j, i] = delays[i, j]
    else:
        for e in range(t0 - n_ring, t0 - 1):   # fired at e, arriving at e + d >= t0 - 1
            r0 = e % n_ring
            for m in range(st.in_n[r0]):
                i = st.in_ids[r0, m]
                for j in range(n_e):
                    if e + delays[i, j] >= t0 - 1:
                        ring[(e + delays[i, j]) % (n_delay + 1), j] += W[i, j]
    return _Work(Ws, pos, delays_t, fired_e, fired_i, np.zeros(n_e, np.bool_), np.zeros(n_e),
                 awake, np.ones(n_e, np.bool_), recent, is_recent, counters, ring,
                 np.empty(n_e), np.empty((3, n_in * (n_delay + 1)), np.int64))


@njit(cache=True)
def _finish(wk, mod, st, train):
    """Hand back what a call changed: the weights in their order, the pending spikes."""
    W, order = mod.W, mod.order
    if train:
        for i in range(W.shape[0]):
            for q in range(W.shape[1]):
                W[i, order[i, q]] = wk.Ws[i, q]
    st.fired_e[:] = False
    st.fired_e[wk.fired_e[:wk.counters[0]]] = True
    st.fired_i[:] = False
    st.fired_i[wk.fired_i[:wk.counters[1]]] = True


@njit(cache=True)
def _steps(wk, mod, st, k, tabs, train, trains, n_steps, out):
    """Advance ``n_steps`` steps from ``st.clock``. Step t first delivers what the previous
    step sent (input spikes fired d steps before it reaching the synapses of delay d, with
    their STDP; excitatory spikes to the inhibitory neurons, with their post-synaptic STDP;
    lateral inhibition), then takes the input spikes of t (``trains``), updates the neurons
    (Euler), applies thresholds and resets. The last step's spikes stay pending (``wk``):
    the order of the generic loop, so a call may stop after any step."""
    W, theta, delays, order, dptr = mod.W, mod.theta, mod.delays, mod.order, mod.dptr
    st_v_e, st_ge_e, st_gi_e, st_timer, st_refr_e = st.v_e, st.ge_e, st.gi_e, st.timer, st.refr_e
    st_v_i, st_ge_i, st_gi_i, st_refr_i = st.v_i, st.ge_i, st.gi_i, st.refr_i
    last_post, em_hist, em_pos, clock = st.last_post, st.em_hist, st.em_pos, st.clock
    in_ids, in_n = st.in_ids, st.in_n
    tab_pre, tab_post1, tab_post2 = tabs.pre, tabs.post1, tabs.post2
    Ws, pos, delays_t, fired_e, fired_i = wk.Ws, wk.pos, wk.delays_t, wk.fired_e, wk.fired_i
    is_i, post1, awake, is_awake = wk.is_i, wk.post1, wk.awake, wk.is_awake
    recent, is_recent, ring, col = wk.recent, wk.is_recent, wk.ring, wk.col
    pair_i, pair_a, pair_b = wk.pairs[0], wk.pairs[1], wk.pairs[2]
    ne, ni, n_awake, n_recent = wk.counters[0], wk.counters[1], wk.counters[2], wk.counters[3]
    counts, out_steps, out_idx = out.counts, out.steps, out.idx
    n_out = out.n[0]
    n_in, n_e = W.shape
    n_delay = dptr.shape[1] - 2
    n_hist = em_hist.shape[1]
    hist_mask = n_hist - 1
    n_ring, n_cring = in_n.size, n_delay + 1
    n_pre, n_p1, n_p2 = tab_pre.size, tab_post1.size, tab_post2.size
    ids, ptr, base = trains.ids, trains.ptr, trains.base
    for t in range(clock[0], clock[0] + n_steps):
        tp = t - 1   # the previous step, whose events are delivered now
        # 1. input spikes arriving (fired at tp - d, delay d)
        if train:
            keep = 0
            for a in range(n_recent):
                j = recent[a]
                dp = tp - last_post[j]
                if dp < n_p1:
                    post1[j] = k.sign * k.nu_pre * tab_post1[dp]
                    recent[keep] = j
                    keep += 1
                else:
                    post1[j] = 0.0
                    is_recent[j] = False
            n_recent = keep
            # first the (input, delay bucket) pairs, reading the first weight and
            # target of each (their memory loads overlap), then the arrivals in order
            n_pair = 0
            touch = 0.0
            for d in range(n_delay + 1):
                r0 = (tp - d) % n_ring
                for m in range(in_n[r0]):
                    i = in_ids[r0, m]
                    a = dptr[i, d]
                    pair_i[n_pair] = i
                    pair_a[n_pair] = a
                    pair_b[n_pair] = dptr[i, d + 1]
                    n_pair += 1
                    if a < n_e:
                        touch += Ws[i, a] + order[i, a]
            col[0] += touch * 0.0
            for u in range(n_pair):
                i = pair_i[u]
                for q in range(pair_a[u], pair_b[u]):
                    j = order[i, q]
                    w = Ws[i, q]
                    st_ge_e[j] += w
                    p1 = post1[j]
                    c = min(max(w + p1, 0.0), k.w_max)
                    Ws[i, q] = c if p1 != 0.0 else w      # a select, not a branch
        else:
            # frozen weights: add each spike's delayed input to a ring buffer at once
            slot = tp % n_cring
            r0 = tp % n_ring
            for m in range(in_n[r0]):
                i = in_ids[r0, m]
                for j in range(n_e):
                    r = slot + delays[i, j]
                    if r >= n_cring:
                        r -= n_cring
                    ring[r, j] += W[i, j]
            for j in range(n_e):
                st_ge_e[j] += ring[slot, j]
                ring[slot, j] = 0.0
        # 2. excitatory spikes: exc -> inh, post-synaptic STDP
        for m in range(ne):
            j = fired_e[m]
            st_ge_i[j] += k.w_ei
            if not is_awake[j]:
                is_awake[j] = True
                awake[n_awake] = j
                n_awake += 1
            if train:
                dp = tp - last_post[j]
                p2 = tab_post2[dp] if dp < n_p2 else 0.0
                if p2 > 0.0:
                    for i in range(n_in):
                        # pre trace: time since the last spike of i that has arrived
                        n_em = em_pos[i]
                        for r in range(min(n_hist, n_em)):
                            arrival = em_hist[i, (n_em - 1 - r) & hist_mask] + delays_t[j, i]
                            if arrival <= tp:
                                da = tp - arrival
                                if da < n_pre:
                                    q = pos[j, i]
                                    Ws[i, q] = min(Ws[i, q] + k.nu_post * tab_pre[da] * p2,
                                                   k.w_max)
                                break
                last_post[j] = tp
                if not is_recent[j]:
                    is_recent[j] = True
                    recent[n_recent] = j
                    n_recent += 1
        # 3. inhibitory spikes: all-but-self inhibition
        if ni > 0:
            for m in range(ni):
                is_i[fired_i[m]] = True
            for j in range(n_e):
                st_gi_e[j] += k.w_ie * (ni - (1 if is_i[j] else 0))
            for m in range(ni):
                is_i[fired_i[m]] = False
        # 4. this step's input spikes (remembered for their arrivals and, while training,
        # for the pre traces)
        r0 = t % n_ring
        in_n[r0] = 0
        if base <= t < base + ptr.size - 1:
            for m in range(ptr[t - base], ptr[t - base + 1]):
                i = ids[m]
                in_ids[r0, in_n[r0]] = i
                in_n[r0] += 1
                if train:
                    em_hist[i, em_pos[i] & hist_mask] = t
                    em_pos[i] += 1
        # 5. state update (Euler), thresholds, resets
        for j in range(n_e):
            st_timer[j] += k.timer_step
        if train:
            for j in range(n_e):
                theta[j] *= k.theta_decay
        # branch-free (selects), so that the compiler can vectorise it
        dt_, vr, ee, ei, tau = k.dt, k.v_rest_e, k.e_exc, k.e_inh_e, k.tau_e
        fge, fgi = k.ge_decay, k.gi_decay
        for j in range(n_e):
            v = st_v_e[j]
            ge, gi = st_ge_e[j], st_gi_e[j]
            u = v + dt_ * ((vr - v) + ge * (ee - v) + gi * (ei - v)) / tau
            st_v_e[j] = u if t >= st_refr_e[j] else v
            ge *= fge
            gi *= fgi
            st_ge_e[j] = ge if ge > 1e-30 else 0.0
            st_gi_e[j] = gi if gi > 1e-30 else 0.0
        ne = 0
        for j in range(n_e):
            if (t >= st_refr_e[j] and st_v_e[j] > theta[j] - k.offset + k.v_thresh_e
                    and st_timer[j] > k.refrac_e):
                fired_e[ne] = j
                ne += 1
        for m in range(ne):
            j = fired_e[m]
            counts[j] += 1
            if n_out < out_steps.size:
                out_steps[n_out] = t
                out_idx[n_out] = j
                n_out += 1
            if train:
                theta[j] += k.theta_plus
            st_v_e[j] = k.v_reset_e
            st_timer[j] = 0.0
            st_refr_e[j] = t + k.refrac_e_steps
        ni = 0
        keep = 0
        for a in range(n_awake):
            j = awake[a]
            ge, gi = st_ge_i[j], st_gi_i[j]
            still = False
            if t >= st_refr_i[j]:
                v = st_v_i[j]
                st_v_i[j] = v + k.dt * ((k.v_rest_i - v) + ge * (k.e_exc - v)
                                        + gi * (k.e_inh_i - v)) / k.tau_i
                if st_v_i[j] > k.v_thresh_i:
                    fired_i[ni] = j
                    ni += 1
                    st_v_i[j] = k.v_reset_i
                    st_refr_i[j] = t + k.refrac_i_steps
                else:
                    still = ge == 0.0 and gi == 0.0 and st_v_i[j] == v
            st_ge_i[j] = _decay(ge, k.ge_decay)
            st_gi_i[j] = _decay(gi, k.gi_decay)
            if still:
                is_awake[j] = False
            else:
                awake[keep] = j
                keep += 1
        n_awake = keep
        clock[0] = t + 1
    wk.counters[0], wk.counters[1], wk.counters[2], wk.counters[3] = ne, ni, n_awake, n_recent
    out.n[0] = n_out


@njit(cache=True, nogil=True)   # modules run in threads (NumbaVPRSNN.n_jobs)
def run_images(pixels, mod, st, k, tabs, train, rng, counts, repeats):
    """Present images (rows of ``pixels``, grey levels) one after the other.

    Each image is shown for ``n_present`` steps then ``n_rest`` steps of silence.
    Mutates the weights ``W``, thresholds ``theta`` (when ``train``) and the state; writes
    each excitatory neuron's spike count during each presentation into ``counts`` (of an
    image's last presentation when ``k.min_spikes`` made it repeat; the number of repeats
    of each image into ``repeats``).
    A synapse's pre trace is ``exp(-(t - last arrival) / tau_pre)``; the last arrival is
    found at post spikes from each input's last ``EMISSION_HISTORY`` spike times plus the
    synapse's delay (exact unless an input fires more than 16 times within one delay).
    ``mod`` (:class:`Module`): weights, thresholds, delays; ``st`` (:class:`State`): the
    dynamic state; ``k``: the constants; ``tabs`` (:class:`Tables`): the trace tables. The
    Poisson inputs are drawn by :func:`biosim.core.fastrandom.poisson_steps` (as
    :meth:`biosim.PoissonGroup.draw_block` draws them) from the stream ``rng``
    (``uint64[4]``, advanced in place). The steps are :func:`_steps`.

    Work is skipped only where it would change nothing (the results are those of the
    plain step-by-step loop, bit for bit): while training the weights are held in delay
    order (``Ws[i, q] = W[i, order[i, q]]``, so each arrival reads its row in sequence);
    ``post1`` is recomputed only for neurons that fired within its table; an inhibitory
    neuron without conductance whose voltage no longer changes (an Euler fixed point)
    is not updated until its excitatory partner fires.
    """
    rs = fastrandom.load(rng)
    order = mod.order
    n_in, n_e = mod.W.shape
    n_present = k.n_present
    wk = _work(mod, st, k, tabs, train)
    Ws, col = wk.Ws, wk.col
    ids = np.empty(n_in * n_present, np.int64)
    tmp_step = np.empty(n_in * n_present, np.int64)
    tmp_id = np.empty(n_in * n_present, np.int64)
    bptr = np.empty(n_present + 1, np.int64)
    none = np.zeros(0, np.int64)
    rest = Out(np.zeros(n_e, np.int64), none, none, np.zeros(1, np.int64))
    img, boost = 0, 0      # boost: this image's repeats so far
    while img < pixels.shape[0]:
        if train and k.weight_sum > 0.0:
            # column sums in the order of i (row by row), then scale
            col[:] = 0.0
            for i in range(n_in):
                for q in range(n_e):
                    col[order[i, q]] += Ws[i, q]
            for j in range(n_e):
                col[j] = k.weight_sum / col[j] if col[j] > 0.0 else 1.0
            for i in range(n_in):
                for q in range(n_e):
                    Ws[i, q] *= col[order[i, q]]
        rates = pixels[img] * (k.rate_scale + boost * k.intensity_step)
        rs = fastrandom.poisson_steps(rs, rates, k.dt, n_present, ids, bptr, tmp_step, tmp_id)
        _steps(wk, mod, st, k, tabs, train, Trains(ids, bptr, st.clock[0]), n_present,
               Out(counts[img], none, none, rest.n))
        _steps(wk, mod, st, k, tabs, train, Trains(none, none, 0), k.n_rest, rest)
        if boost < k.max_repeats and counts[img].sum() < k.min_spikes:
            boost += 1
            repeats[img] += 1
            counts[img] = 0
        else:
            img, boost = img + 1, 0
    _finish(wk, mod, st, train)
    fastrandom.store(rng, rs)


@njit(cache=True)
def run_steps(mod, st, k, tabs, train, trains, n_steps, out):
    """Advance ``n_steps`` steps (:func:`_steps`) with the given input spikes (``trains``,
    :class:`Trains`), counting and recording the excitatory spikes into ``out``
    (:class:`Out`); what :meth:`biosim.Network.run` runs for a VPRSNN network."""
    wk = _work(mod, st, k, tabs, train)
    _steps(wk, mod, st, k, tabs, train, trains, n_steps, out)
    _finish(wk, mod, st, train)


@njit(cache=True, inline="always")
def _last_arrival(em_hist, n_em, i, d, tau):
    """The step the last spike of input i (emission history) arrived at a synapse of delay
    d by step tau, or -2**60 (never)."""
    n_hist = em_hist.shape[1]
    for r in range(min(n_hist, n_em)):
        arrival = em_hist[i, (n_em - 1 - r) & (n_hist - 1)] + d
        if arrival <= tau:
            return arrival
    return NEVER


@njit(cache=True)
def last_arrivals(em_hist, em_pos, delays, tau, offset, out):
    """Into ``out`` (n_input, n_e): for every synapse (delay ``delays[i, j]`` steps) the
    step its last input spike arrived at by step ``tau``, plus ``offset``; -2**60 for
    never."""
    for i in range(delays.shape[0]):
        for j in range(delays.shape[1]):
            a = _last_arrival(em_hist, em_pos[i], i, delays[i, j], tau)
            out[i, j] = a + offset if a > -(np.int64(1) << 59) else a


@njit(cache=True)
def arrivals_agree(em_hist, em_pos, delays, tau, offset, want):
    """Whether :func:`last_arrivals` would write exactly ``want``."""
    for i in range(delays.shape[0]):
        for j in range(delays.shape[1]):
            a = _last_arrival(em_hist, em_pos[i], i, delays[i, j], tau)
            if (a + offset if a > -(np.int64(1) << 59) else a) != want[i, j]:
                return False
    return True


def check_pixels(pixels_per_module, n_modules: int, n_input: int) -> list[np.ndarray]:
    """One float64 array (n_images, n_input) of grey levels in [0, 255] per module."""
    if len(pixels_per_module) != n_modules:
        fail("pixels_per_module", f"one image array per module ({n_modules})",
             len(pixels_per_module))
    return [np.ascontiguousarray(array(f"pixels_per_module[{m}]", x, shape=(None, n_input),
                                       low=0.0, high=255.0))
            for m, x in enumerate(pixels_per_module)]


class NumbaVPRSNN:
    """Independent VPRSNN modules on the CPU, ``n_jobs`` modules at a time in threads (the
    kernel releases the GIL; results do not depend on ``n_jobs``).

    Each module is a core :class:`~biosim.Network` built by
    :func:`biosim.vpr.snn_network.vprsnn_network` (whose Poisson input draws from the
    module's run generator) and shown its images by :func:`biosim.vpr.snn_network.present`
    in the fused kernel :func:`run_images`. ``present(pixels_per_module, train)`` shows each
    module its own images (arrays of shape (n_images, n_input), grey levels 0-255) and
    returns their spike counts (n_images, n_e) per module. Weights ``W`` (n_input, n_e),
    delays and thresholds live in ``modules`` (one dict per module; ``W`` and ``theta`` are
    views of the networks' arrays), the networks in ``networks``.
    """

    backend = "numba"

    def __init__(self, n_modules: int, n_input: int, n_e: int, params: SNNParams | None = None,
                 seed=None, n_jobs: int = 1):
        self.params = params or SNNParams()
        self.n_modules = integer("n_modules", n_modules, low=1)
        self.n_input = integer("n_input", n_input, low=1)
        self.n_e = integer("n_e", n_e, low=1)
        self.n_jobs = integer("n_jobs", n_jobs, low=1)
        seeds = np.random.SeedSequence(make_rng(seed).integers(2**63)).spawn(2 * n_modules)
        self._run_seeds = [make_rng(s) for s in seeds[n_modules:]]
        self.modules = [init_module(n_input, n_e, self.params, s) for s in seeds[:n_modules]]
        self._build()

    def _build(self):
        """One network per module, in its initial state, on the module's arrays."""
        from biosim.vpr.snn_network import vprsnn_network

        self.networks = []
        for mod, rng in zip(self.modules, self._run_seeds):
            net = vprsnn_network(self.params, self.n_input, self.n_e, seed=0, module=mod)
            net["input"].initialize(rng)
            mod["W"] = net["input->exc"].weights.data.reshape(self.n_input, self.n_e)
            mod["theta"] = net["exc"].state["theta"]
            d = net["input->exc"].delay
            if d.ndim:   # one array for both (a single value for all is kept as a scalar)
                mod["delays"] = d.reshape(self.n_input, self.n_e)
            self.networks.append(net)

    def reset_state(self):
        """Forget the dynamic state (voltages, conductances, traces); keep W and theta."""
        self._build()

    def training_state(self) -> dict:
        """Everything a training run changes (weights, thresholds, dynamic state in the
        kernel's form, the Poisson streams), as plain data: :meth:`set_training_state`
        continues exactly."""
        from biosim.vpr.snn_network import kernel_state

        return {"modules": [{k: np.array(m[k]) for k in ("W", "delays", "theta")}
                            for m in self.modules],
                "state": [kernel_state(net, self.params) for net in self.networks],
                "run_seeds": [generator_state(r) for r in self._run_seeds]}

    def set_training_state(self, saved: dict) -> None:
        from biosim.vpr.snn_network import set_kernel_state

        self.set_modules(saved["modules"])
        for net, s in zip(self.networks, saved["state"]):
            if s:
                set_kernel_state(net, s, self.params)
        for r, s in zip(self._run_seeds, saved["run_seeds"]):
            set_generator_state(r, s)

    def set_modules(self, modules: list[dict]):
        """Replace every module's ``W``, ``delays`` and ``theta`` (e.g. from a saved model)."""
        self.modules = [{key: np.array(m[key]) for key in ("W", "delays", "theta")}
                        for m in modules]
        self.reset_state()

    def present(self, pixels_per_module, train: bool, seed=None) -> list[np.ndarray]:
        """Show module ``m`` the images ``pixels_per_module[m]``; spike counts per module.

        ``seed`` fixes this call's Poisson draws (otherwise each call draws new ones).
        ``repeats_`` (one array per module): how often each image was shown again
        (``SNNParams.min_spikes``).
        """
        from biosim.vpr.snn_network import present

        pixels = check_pixels(pixels_per_module, self.n_modules, self.n_input)
        self.repeats_ = [np.zeros(x.shape[0], np.int64) for x in pixels]
        inputs = [net["input"] for net in self.networks]
        if seed is not None:   # this call's own streams, then the modules' own again
            for inp, rng in zip(inputs, np.random.SeedSequence(seed).spawn(self.n_modules)):
                inp.initialize(make_rng(rng))

        def run(m):
            return present(self.networks[m], pixels[m], bool(train), self.params, fused=True,
                           repeats=self.repeats_[m])

        try:
            if self.n_jobs == 1 or self.n_modules == 1:
                return [run(m) for m in range(self.n_modules)]
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(self.n_jobs, self.n_modules)) as pool:
                return list(pool.map(run, range(self.n_modules)))
        finally:
            if seed is not None:
                for inp, rng in zip(inputs, self._run_seeds):
                    inp.initialize(rng)
