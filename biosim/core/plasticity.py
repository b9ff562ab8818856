"""Plasticity rules: one family of small objects that update a projection's weights.

A rule is a numba *kernel* that returns the weight change of one synapse in one step::

    dw = kernel(w, pre, post, pre_trace, post_trace, modulator, dt, params)

``pre``/``post`` are this step's activities (spike = 1.0), ``*_trace`` their low-pass traces
(read *before* this step's activity is added, so pairings are causal; with no time
constant a trace is the activity itself), ``modulator`` the product of the rule's named
global signals at the post unit (``net.modulators[name]``, scalar or per post unit), and
``params`` a float64 array. The drivers below loop over dense or CSR synapses, clip to
``[w_min, w_max]`` and keep the traces, so a new rule is one small ``@njit`` function::

    @numba.njit
    def anti_hebb(w, pre, post, pre_tr, post_tr, mod, dt, p):
        return -p[0] * pre_tr * post

    rule = bs.LocalRule(anti_hebb, params=[1e-3], tau_pre=20.0)

Every rule also works outside a network on a dense matrix: ``rule.apply(W, pre, post)``;
activities of shape (n, d) (e.g. phases as unit vectors) pair by the dot product over d.

Each rule class declares ``accepts``, the activity kinds it can read
(:data:`biosim.core.population.KINDS`: STDP pairs ``"spikes"``, Hebbian any kind, ...). When
a projection with a rule joins a network, the pre and post activity kinds must be accepted,
and the initial weights must lie in the rule's bounds [w_min, w_max]: a rule never clips
them silently (STDP's default [0, 1] on an inhibitory projection in [-1, 0] would set every
weight to 0; pass ``w_min=-1.0, w_max=0.0``). Both are one-line errors at ``net.connect``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from biosim.core import validation as check
from biosim.core.population import KINDS, SCALAR_KINDS, check_kinds, describe

__all__ = ["Rule", "LocalRule", "Hebbian", "Oja", "STDP", "ThreeFactor", "ClippedHebbian",
           "TripletSTDP", "normalize_incoming"]


# ---------------------------------------------------------------- kernels (one synapse)
@njit(cache=True)
def hebbian_kernel(w, pre, post, pre_tr, post_tr, mod, dt, p):
    """dw = eta (x_pre x_post - decay w) dt; p = (eta, decay)."""
    return p[0] * (pre_tr * post_tr - p[1] * w) * dt


@njit(cache=True)
def oja_kernel(w, pre, post, pre_tr, post_tr, mod, dt, p):
    """dw = eta y (x - y w) dt; p = (eta,)."""
    return p[0] * post_tr * (pre_tr - post_tr * w) * dt


@njit(cache=True)
def stdp_kernel(w, pre, post, pre_tr, post_tr, mod, dt, p):
    """Trace STDP; p = (a_plus, a_minus, multiplicative, w_min, w_max).

    Additive: dw = a+ x_pre post - a- x_post pre. Multiplicative scales potentiation by
    (w_max - w) and depression by (w - w_min)."""
    if p[2] > 0.0:
        return p[0] * (p[4] - w) * pre_tr * post - p[1] * (w - p[3]) * post_tr * pre
    return p[0] * pre_tr * post - p[1] * post_tr * pre


@njit(cache=True)
def coincidence_kernel(w, pre, post, pre_tr, post_tr, mod, dt, p):
    """Eligibility increment of the three-factor rule: pre trace x post activity."""
    return pre_tr * post


@njit(cache=True)
def clipped_kernel(w, pre, post, pre_tr, post_tr, mod, dt, p):
    """Binary clipped Hebbian (Willshaw): w <- max(w, x_pre x_post)."""
    c = pre_tr * post_tr
    return c - w if c > w else 0.0


# ---------------------------------------------------------------- drivers (all synapses)
class Step(NamedTuple):
    """One step of a rule: activities, traces and modulator per unit, the step ``dt`` (ms),
    the kernel's parameters ``p`` and the weight bounds [lo, hi]."""
    x_pre: np.ndarray
    x_post: np.ndarray
    tr_pre: np.ndarray
    tr_post: np.ndarray
    mod: np.ndarray
    dt: float
    p: np.ndarray
    lo: float
    hi: float


class Synapses(NamedTuple):
    """CSR synapses (rows = pre units) and, for the event-driven pass over active post units,
    the synapses of each post unit (``col_ptr``/``col_syn``) and each synapse's pre unit."""
    indptr: np.ndarray
    indices: np.ndarray
    col_ptr: np.ndarray
    col_syn: np.ndarray
    pre_of: np.ndarray


@njit(cache=True)
def _clip(w, lo, hi):
    return lo if w < lo else (hi if w > hi else w)


@njit(cache=True, inline="always")
def _updated(kernel, w, i, j, st):
    """Synapse i -> j's new weight, clipped."""
    return _clip(w + kernel(w, st.x_pre[i], st.x_post[j], st.tr_pre[i], st.tr_post[j],
                            st.mod[j], st.dt, st.p), st.lo, st.hi)


@njit(cache=True)
def dense_update(W, kernel, st, events):
    """Apply ``kernel`` to a dense (n_pre, n_post) matrix. With ``events`` only synapses
    whose pre or post unit is active are visited (valid for kernels that vanish otherwise)."""
    n_pre, n_post = W.shape
    x_pre, x_post = st.x_pre, st.x_post
    for i in range(n_pre):
        if not events or x_pre[i] != 0.0:
            for j in range(n_post):
                W[i, j] = _updated(kernel, W[i, j], i, j, st)
    if not events:
        return
    for j in range(n_post):
        if x_post[j] != 0.0:
            for i in range(n_pre):
                if x_pre[i] == 0.0:
                    W[i, j] = _updated(kernel, W[i, j], i, j, st)


@njit(cache=True)
def csr_update(data, syn, kernel, st, events):
    """Apply ``kernel`` to CSR synapses ``syn`` (weights ``data``), rows then, with
    ``events``, the active post units' columns."""
    indptr, indices = syn.indptr, syn.indices
    x_pre, x_post = st.x_pre, st.x_post
    for i in range(indptr.size - 1):
        if not events or x_pre[i] != 0.0:
            for s in range(indptr[i], indptr[i + 1]):
                data[s] = _updated(kernel, data[s], i, indices[s], st)
    if not events:
        return
    for j in range(syn.col_ptr.size - 1):
        if x_post[j] != 0.0:
            for k in range(syn.col_ptr[j], syn.col_ptr[j + 1]):
                s = syn.col_syn[k]
                i = syn.pre_of[s]
                if x_pre[i] == 0.0:
                    data[s] = _updated(kernel, data[s], i, j, st)


@njit(cache=True)
def eligibility_update(w, e, pre_of, post_of, kernel, st, decay, eta, offline=None,
                       pending=None):
    """Three-factor step over flat synapse arrays: e <- decay e + kernel(...) (the kernel
    sees modulator 1); w <- w + eta M_j e dt. With ``pending`` (flat like w), the change of
    a synapse onto a post unit j with ``offline[j]`` is added to ``pending`` instead."""
    for s in range(w.size):
        i, j = pre_of[s], post_of[s]
        e[s] = decay * e[s] + kernel(w[s], st.x_pre[i], st.x_post[j], st.tr_pre[i],
                                     st.tr_post[j], 1.0, st.dt, st.p)
        if pending is None:
            w[s] = _clip(w[s] + eta * st.mod[j] * e[s] * st.dt, st.lo, st.hi)
        elif offline[j]:
            pending[s] += eta * st.mod[j] * e[s] * st.dt
        else:
            w[s] = _clip(w[s] + eta * st.mod[j] * e[s] * st.dt, st.lo, st.hi)


# ---------------------------------------------------------------- rule objects
class Rule:
    """Base of all plasticity rules. Subclasses set ``kernel`` and ``params``; rules
    with per-synapse state (``ThreeFactor``) or non-local math override ``update``."""

    kernel = None
    #: the kernel is zero unless the pre or the post unit is active (STDP): visit only those
    event_driven = False
    #: activity kinds the rule reads (pre and post ``activity``): one value per unit
    accepts: tuple[str, ...] = SCALAR_KINDS

    def __init__(self, params=(), *, tau_pre=None, tau_post=None, w_min=-np.inf,
                 w_max=np.inf, modulators=(), trace="all"):
        self.params = check.array("params", params, ndim=1)
        self.tau_pre = check.positive("tau_pre", tau_pre, "ms") if tau_pre is not None else None
        self.tau_post = check.positive("tau_post", tau_post, "ms") if tau_post is not None else None
        self.w_min, self.w_max = float(w_min), float(w_max)
        if math.isnan(self.w_min) or math.isnan(self.w_max) or self.w_min > self.w_max:
            check.fail("w_min/w_max", "w_min <= w_max (no NaN)", (w_min, w_max))
        self.modulators = (modulators,) if isinstance(modulators, str) else tuple(modulators)
        self.trace = check.choice("trace", trace, ("all", "nearest"))
        self.pre_trace = self.post_trace = None

    def __repr__(self):
        return f"{type(self).__name__}(params={self.params.tolist()})"

    def initialize(self, rng: np.random.Generator) -> None:
        """Take the random stream of the rule's projection (called once by
        :meth:`Network.connect`); rules that draw keep it, the others ignore it."""

    def check_projection(self, proj) -> None:
        """Refuse a projection whose activity kinds this rule does not read, or whose initial
        weights lie outside [w_min, w_max] (the first update would clip them)."""
        for side, pop in (("pre", proj.pre), ("post", proj.post)):
            kind = pop.activity_kinds[0]
            if kind not in self.accepts:
                raise check.BiosimError(
                    f"rule: {type(self).__name__} reads {' or '.join(map(repr, self.accepts))}"
                    f", but {side} {describe(pop)} of projection {proj.name!r} is of kind "
                    f"{kind!r}")
        w = proj.weights.flat_values()
        if not w.size:
            return
        lo, hi = float(w.min()), float(w.max())
        if lo < self.w_min or hi > self.w_max:
            flip = (lo < 0.0 <= self.w_min) or (hi > 0.0 >= self.w_max)
            fix = " (inhibitory: e.g. w_min=-1.0, w_max=0.0)" if flip else ""
            raise check.BiosimError(
                f"w_min/w_max: {type(self).__name__} bounds [{self.w_min:g}, {self.w_max:g}] "
                f"would {'flip the sign of' if flip else 'clip'} the initial weights of "
                f"projection {proj.name!r}, in [{lo:g}, {hi:g}]; give bounds that hold them{fix}")

    def reset(self) -> None:
        """Forget traces (they are reallocated on the next update)."""
        self.pre_trace = self.post_trace = None

    # traces: decay, hand the pre-step values to the kernel, then add this step's activity
    def _traces(self, x_pre, x_post, dt):
        if self.pre_trace is None or self.pre_trace.shape != x_pre.shape:
            self.pre_trace, self.post_trace = np.zeros_like(x_pre), np.zeros_like(x_post)
        tr_pre = self._decay(self.pre_trace, x_pre, self.tau_pre, dt)
        tr_post = self._decay(self.post_trace, x_post, self.tau_post, dt)
        return tr_pre, tr_post

    @staticmethod
    def _decay(trace, x, tau, dt):
        if tau is None:
            return x
        trace *= math.exp(-dt / tau)
        return trace.copy()

    def _add_activity(self, x_pre, x_post):
        for trace, x, tau in ((self.pre_trace, x_pre, self.tau_pre),
                              (self.post_trace, x_post, self.tau_post)):
            if tau is None:
                continue
            if self.trace == "nearest":
                np.copyto(trace, 1.0, where=x != 0)
            else:
                trace += x

    def update(self, weights, x_pre, x_post, dt, mod) -> None:
        """One step on a :class:`~biosim.core.projection.Weights` (dense or CSR)."""
        if x_pre.ndim == 2 or x_post.ndim == 2:
            return self._update_vectors(weights, x_pre, x_post, dt, mod)
        tr_pre, tr_post = self._traces(x_pre, x_post, dt)
        st = Step(x_pre, x_post, tr_pre, tr_post, mod, dt, self.params, self.w_min, self.w_max)
        if weights.dense:
            dense_update(weights.W, self.kernel, st, self.event_driven)
        else:
            syn = Synapses(weights.indptr, weights.indices, weights.col_ptr, weights.col_syn,
                           weights.pre_of)
            csr_update(weights.data, syn, self.kernel, st, self.event_driven)
        self._add_activity(x_pre, x_post)

    def _update_vectors(self, weights, x_pre, x_post, dt, mod):
        check.fail("activity", f"one value per unit for {type(self).__name__} "
                               "(vector activity is supported by Hebbian and ClippedHebbian)",
                   f"shape {x_pre.shape}")

    def apply(self, W, pre, post, dt: float = 1.0, modulator=1.0) -> np.ndarray:
        """One step of the rule on a dense float array W of shape (n_pre, n_post), in place."""
        from biosim.core.projection import Weights

        W = np.asarray(W)
        pre = np.asarray(pre, dtype=float)
        post = np.asarray(post, dtype=float)
        if W.ndim != 2 or W.shape != (pre.shape[0], post.shape[0]):
            check.fail("W", f"shape (n_pre, n_post) = ({pre.shape[0]}, {post.shape[0]})",
                       f"shape {W.shape}")
        if W.dtype != np.float64:
            check.fail("W", "a float64 array (updated in place)", W.dtype)
        mod = np.broadcast_to(np.asarray(modulator, dtype=float), (post.shape[0],)).copy()
        self.update(Weights.from_dense(W, copy=False), pre, post, float(dt), mod)
        return W


class LocalRule(Rule):
    """A user rule from a numba kernel ``dw = kernel(w, pre, post, pre_tr, post_tr, mod,
    dt, params)`` (see the module docstring). ``accepts``: the activity kinds it reads
    (default: the kinds of one value per unit)."""

    def __init__(self, kernel, params=(), *, event_driven=False, accepts=None, **kw):
        super().__init__(params, **kw)
        if not hasattr(kernel, "py_func"):
            check.fail("kernel", "a numba @njit function", kernel)
        self.kernel, self.event_driven = kernel, bool(event_driven)
        if accepts is not None:
            self.accepts = check_kinds("accepts", accepts)


class _Correlational(Rule):
    """Rules whose vector form pairs units by the dot product over the last axis."""

    accepts = tuple(KINDS)

    def check_projection(self, proj) -> None:
        super().check_projection(proj)
        if any(p.activity.ndim == 2 for p in (proj.pre, proj.post)):
            self._check_vectors(proj.weights.dense, proj.name)

    def _check_vectors(self, dense, where):
        if not dense or self.tau_pre or self.tau_post:
            check.fail("rule", f"a dense projection and a rule without traces for vector "
                               f"activity (projection {where!r})", type(self).__name__)

    def _update_vectors(self, weights, x_pre, x_post, dt, mod):
        self._check_vectors(weights.dense, "apply")
        corr = np.atleast_2d(x_pre.reshape(len(x_pre), -1) @ x_post.reshape(len(x_post), -1).T)
        W = weights.W
        W += self._vector_dw(W, corr, dt) * mod[None, :]
        np.clip(W, self.w_min, self.w_max, out=W)


class Hebbian(_Correlational):
    """dW_ij = eta (x_i x_j - decay W_ij) dt, clipped to [w_min, w_max].

    Kuramoto coupling adaptation dK_ij/dt = eps (cos(theta_j - theta_i) - K_ij) is
    ``Hebbian(eta=eps, decay=1.0)`` on phases given as unit vectors (n, 2)."""

    kernel = hebbian_kernel

    def __init__(self, eta: float, decay: float = 0.0, **kw):
        self.eta = check.number("eta", eta)
        self.decay = check.nonnegative("decay", decay)
        super().__init__([self.eta, self.decay], **kw)

    def _vector_dw(self, W, corr, dt):
        return self.eta * (corr - self.decay * W) * dt


class ClippedHebbian(_Correlational):
    """Binary clipped Hebbian storage (Willshaw): W_ij <- max(W_ij, x_i x_j)."""

    kernel = clipped_kernel
    accepts = ("binary", "spikes")

    def __init__(self):
        super().__init__([], w_min=0.0, w_max=1.0)

    def _vector_dw(self, W, corr, dt):
        return np.maximum(W, corr) - W


class Oja(Rule):
    """Oja's rule dW_ij = eta y_j (x_i - y_j W_ij) dt (x pre, y post)."""

    kernel = oja_kernel

    def __init__(self, eta: float, **kw):
        self.eta = check.positive("eta", eta)
        super().__init__([self.eta], **kw)


class STDP(Rule):
    """Pair-based STDP in trace form.

    A pre spike at t_pre and a post spike at t_post = t_pre + s change w by
    ``a_plus exp(-s / tau_plus)`` for s > 0 and ``-a_minus exp(s / tau_minus)`` for s < 0
    (times in ms); it reads spikes (``accepts = ("spikes",)``). The bounds [w_min, w_max]
    (default [0, 1], excitatory) must hold the initial weights; for an inhibitory projection
    pass e.g. ``w_min=-1.0, w_max=0.0``. ``multiplicative=True`` scales potentiation by (w_max - w) and depression
    by (w - w_min) (soft bounds); weights are always clipped to [w_min, w_max].
    ``trace="nearest"`` resets traces to 1 instead of adding 1.
    """

    kernel = stdp_kernel
    event_driven = True
    accepts = ("spikes",)

    def __init__(self, a_plus=0.01, a_minus=0.012, tau_plus=20.0, tau_minus=20.0, *,
                 w_min=0.0, w_max=1.0, multiplicative=False, trace="all"):
        self.a_plus = check.nonnegative("a_plus", a_plus)
        self.a_minus = check.nonnegative("a_minus", a_minus)
        check.number("w_min", w_min)
        check.number("w_max", w_max)
        self.multiplicative = bool(multiplicative)
        super().__init__([self.a_plus, self.a_minus, float(self.multiplicative), w_min, w_max],
                         tau_pre=check.positive("tau_plus", tau_plus, "ms"),
                         tau_post=check.positive("tau_minus", tau_minus, "ms"), w_min=w_min, w_max=w_max,
                         trace=trace)


class ThreeFactor(Rule):
    """Eligibility x modulator x gate: the skeleton of three-factor learning.

    Per synapse i -> j, each step: ``e <- e exp(-dt/tau_e) + eligibility(...)`` (default:
    pre trace x post activity) and ``w <- w + eta_j M_j e dt``, where ``M_j`` is the product
    of the named ``modulators`` at post unit j (e.g. ``("error", "gate")``), set in
    ``net.modulators`` by the network or a callback every step. ``eligibility`` is any rule
    kernel.

    ``eta``: one learning rate, or one per post unit (an array of post.n; folded into the
    modulator, ``eta_j M_j``). ``offline``: False (online: w changes every step), True, or
    one bool per post unit; the changes of synapses onto offline units accumulate in
    ``pending_`` (flat like the weights) and reach the weights only when
    :meth:`consolidate` is called (e.g. at the end of a trial: consolidated learning).

    Learned: ``eligibility_`` and ``pending_`` (flat, in the order of
    ``weights.flat_values()``), allocated at the first update.
    """

    def __init__(self, eta, tau_e: float = 100.0, modulators=("error",), *,
                 eligibility=coincidence_kernel, eligibility_params=(), tau_pre=20.0,
                 tau_post=None, w_min=-np.inf, w_max=np.inf, offline=False):
        eta = check.array("eta", eta)
        if eta.ndim > 1:
            check.fail("eta", "a number or one number per post unit", f"shape {eta.shape}")
        self.eta = float(eta) if eta.ndim == 0 else eta
        self.tau_e = check.positive("tau_e", tau_e, "ms")
        if not hasattr(eligibility, "py_func"):
            check.fail("eligibility", "a numba @njit rule kernel", eligibility)
        self.kernel = eligibility
        off = np.asarray(offline)
        if off.dtype != np.bool_ or off.ndim > 1:
            check.fail("offline", "True, False or one bool per post unit", offline)
        self.offline = bool(off) if off.ndim == 0 else off
        super().__init__(eligibility_params, tau_pre=tau_pre, tau_post=tau_post, w_min=w_min,
                         w_max=w_max, modulators=modulators)
        self.eligibility_ = self.pending_ = None

    def check_projection(self, proj) -> None:
        super().check_projection(proj)
        for field, x in (("eta", self.eta), ("offline", self.offline)):
            if np.ndim(x) and np.shape(x) != (proj.post.n,):
                check.fail(field, f"a scalar or one value per post unit ({proj.post.n}) of "
                                  f"projection {proj.name!r}", f"shape {np.shape(x)}")

    def reset(self):
        super().reset()
        self.eligibility_ = self.pending_ = None

    def update(self, weights, x_pre, x_post, dt, mod):
        tr_pre, tr_post = self._traces(x_pre, x_post, dt)
        flat = weights.flat_values()
        if self.eligibility_ is None or self.eligibility_.shape != flat.shape:
            self.eligibility_ = np.zeros_like(flat)
        eta = self.eta
        if np.ndim(eta):  # per post unit: eta_j M_j
            mod, eta = eta * mod, 1.0
        st = Step(x_pre, x_post, tr_pre, tr_post, mod, dt, self.params, self.w_min, self.w_max)
        args = (flat, self.eligibility_, weights.pre_of, weights.post_of, self.kernel, st,
                math.exp(-dt / self.tau_e), eta)
        if np.any(self.offline):
            if self.pending_ is None or self.pending_.shape != flat.shape:
                self.pending_ = np.zeros_like(flat)
            offline = np.broadcast_to(self.offline, (x_post.shape[0],))
            eligibility_update(*args, np.ascontiguousarray(offline), self.pending_)
        else:
            eligibility_update(*args)
        self._add_activity(x_pre, x_post)

    def consolidate(self, weights) -> None:
        """Add the pending changes of the offline post units to ``weights`` (the
        projection's :class:`~biosim.core.projection.Weights`, ``proj.weights``), clipped
        to [w_min, w_max], and clear them."""
        if self.pending_ is None:
            return
        flat = weights.flat_values()
        if flat.shape != self.pending_.shape:
            check.fail("weights", f"the weights this rule learned on ({self.pending_.size} "
                                  "synapses)", f"{flat.size} synapses")
        np.clip(flat + self.pending_, self.w_min, self.w_max, out=flat)
        self.pending_[:] = 0.0


# ---------------------------------------------------------------- triplet STDP (Diehl & Cook)
def trace_table(tau: float, dt: float) -> np.ndarray:
    """``exp(-k dt / tau)`` for k steps since the last event, up to 30 tau (then 0)."""
    return np.exp(-np.arange(int(math.ceil(30 * tau / dt)) + 1) * dt / tau)


class TripletTables(NamedTuple):
    """Trace tables of :func:`trace_table` for tau_pre, tau_post1, tau_post2."""
    pre: np.ndarray
    post1: np.ndarray
    post2: np.ndarray


class TripletState(NamedTuple):
    """The rule's event times (steps): each synapse's last arrival, each post unit's last
    spike; the pre spikes of the last ``ring.shape[0]`` steps; the post spikes of the
    previous step; the step counter ``clock[0]``."""
    last_arrival: np.ndarray
    last_post: np.ndarray
    ring: np.ndarray
    prev_post: np.ndarray
    clock: np.ndarray


@njit(cache=True)
def triplet_update(w, syn, delay, st, tabs, x_pre, x_post, mod, p):
    """One step of :class:`TripletSTDP` over synapses ``syn`` (:class:`Synapses`, rows =
    pre units; weights ``w``, delays in steps): the events of the previous step k (pre
    spikes arriving at k, then post spikes of k), then this step's spikes are stored.
    Only the rows of inputs that fired within the longest delay and the columns of post
    units that fired are visited. ``p`` = (nu_pre, nu_post, w_min, w_max)."""
    nu_pre, nu_post, lo, hi = p[0], p[1], p[2], p[3]
    now = st.clock[0]
    ring, last_arr, last_post = st.ring, st.last_arrival, st.last_post
    n_ring = ring.shape[0]
    n_p, n_p1, n_p2 = tabs.pre.size, tabs.post1.size, tabs.post2.size
    if now >= 1:
        k = now - 1
        for i in range(syn.indptr.size - 1):  # arrivals: w -= nu_pre post1
            recent = False
            for d in range(min(n_ring, k + 1)):
                if ring[(k - d) % n_ring, i]:
                    recent = True
                    break
            if not recent:
                continue
            for s in range(syn.indptr[i], syn.indptr[i + 1]):
                j = syn.indices[s]
                e = k - delay[s]
                if mod[j] == 0.0 or e < 0 or not ring[e % n_ring, i]:
                    continue  # a modulator of 0: no change, the traces miss the event
                last_arr[s] = k
                dp = k - last_post[j]
                if dp < n_p1:
                    w[s] = _clip(w[s] + (-nu_pre * tabs.post1[dp]) * mod[j], lo, hi)
        for j in range(x_post.size):  # post spikes: w += nu_post pre post2(before)
            if not st.prev_post[j] or mod[j] == 0.0:
                continue
            dp = k - last_post[j]
            if dp < n_p2:
                for q in range(syn.col_ptr[j], syn.col_ptr[j + 1]):
                    s = syn.col_syn[q]
                    da = k - last_arr[s]
                    if 0 <= da < n_p:
                        w[s] = min(w[s] + nu_post * tabs.pre[da] * tabs.post2[dp] * mod[j], hi)
            last_post[j] = k
    for i in range(x_pre.size):
        ring[now % n_ring, i] = x_pre[i] != 0.0
    for j in range(x_post.size):
        st.prev_post[j] = x_post[j] != 0.0
    st.clock[0] = now + 1


def _synapses(weights) -> Synapses:
    """The row and column structure of dense or CSR weights (synapse s in the order of
    ``flat_values``)."""
    if not weights.dense:
        return Synapses(weights.indptr, weights.indices, weights.col_ptr, weights.col_syn,
                        weights.pre_of)
    n_pre, n_post = weights.W.shape
    n = n_pre * n_post
    return Synapses(np.arange(0, n + 1, n_post), weights.post_of,
                    np.arange(0, n + 1, n_pre), np.arange(n).reshape(n_pre, n_post).T.ravel(),
                    weights.pre_of)


@njit(cache=True)
def _normalize_columns(w, col_ptr, col_syn, total):
    for j in range(col_ptr.size - 1):
        col = 0.0
        for q in range(col_ptr[j], col_ptr[j + 1]):
            col += w[col_syn[q]]
        if col > 0.0:
            f = total / col
            for q in range(col_ptr[j], col_ptr[j + 1]):
                w[col_syn[q]] *= f


def normalize_incoming(weights, total: float) -> None:
    """Scale each post unit's incoming weights to sum to ``total`` (units whose weights sum
    to 0 are left alone), in place on a :class:`~biosim.core.projection.Weights` or a dense
    (n_pre, n_post) array; Diehl & Cook normalise before every training presentation."""
    from biosim.core.projection import Weights

    total = check.positive("total", total)
    if isinstance(weights, np.ndarray):
        if weights.ndim != 2 or weights.dtype != np.float64:
            check.fail("weights", "a float64 (n_pre, n_post) array", weights.dtype)
        weights = Weights.from_dense(weights, copy=False)
    syn = _synapses(weights)
    _normalize_columns(weights.flat_values(), syn.col_ptr, syn.col_syn, total)


class TripletSTDP(Rule):
    """Triplet STDP with nearest-spike traces, as Diehl & Cook (2015) and VPRSNN (Hussaini et
    al. 2022) ran it in Brian2 (``pre = 1``, ``post1 = 1``, ``post2 = 1`` at spikes).

    A pre spike arriving at its synapse (after the synapse's delay) changes ``w`` by
    ``-nu_pre * post1``; a post spike by ``+nu_post * pre * post2`` with post2 read before
    this spike; weights are clipped to [w_min, w_max]. Each trace is ``exp(-s / tau)`` of
    the time s (ms) since its last event (0 after 30 tau). Diehl & Cook's ``nu_pre > 0``
    depresses; the Brian2 port VPRSNN used potentiates (``nu_pre < 0`` here).

    Timing: a spike acts on the weights when the projection delivers it, one step after it
    was fired (plus the synapse's delay, read from the projection), and it transmits the
    weight from before its own update (Brian2's ``on_pre: ge += w; w = ...``); post spikes act
    one step after they fire too, after that step's arrivals, so a post spike sees the pre
    spikes that arrive in its step. The modulators (product at the post unit) scale the
    weight changes; where it is 0 the rule is off: no change, and the traces miss the
    events (VPRSNN's test presentations, run without STDP).
    """

    event_driven = True
    accepts = ("spikes",)

    def __init__(self, nu_pre=1e-4, nu_post=1e-2, tau_pre=20.0, tau_post1=20.0,
                 tau_post2=40.0, *, w_min=0.0, w_max=1.0, modulators=()):
        self.nu_pre = check.number("nu_pre", nu_pre)
        self.nu_post = check.nonnegative("nu_post", nu_post)
        self.taus = tuple(check.positive(name, tau, "ms") for name, tau in
                          (("tau_pre", tau_pre), ("tau_post1", tau_post1),
                           ("tau_post2", tau_post2)))
        check.number("w_min", w_min)
        check.number("w_max", w_max)
        super().__init__([self.nu_pre, self.nu_post, float(w_min), float(w_max)], w_min=w_min,
                         w_max=w_max, modulators=modulators)
        self.delay_ = np.zeros(0, np.int64)
        self.state_ = self.tables_ = None
        self.table_dt_ = None

    def __repr__(self):
        return f"TripletSTDP(nu_pre={self.nu_pre:g}, nu_post={self.nu_post:g})"

    def check_projection(self, proj) -> None:
        super().check_projection(proj)
        d, n = proj.delay, proj.weights.n_synapses
        self.delay_ = d if d.ndim == 1 else np.full(n, int(d), np.int64)  # shared, not copied

    def reset(self) -> None:
        super().reset()
        self.state_ = None

    def _state(self, weights, n_pre, n_post) -> TripletState:
        n_syn = weights.n_synapses
        if self.delay_.size != n_syn:  # outside a network (apply): no delays
            self.delay_ = np.zeros(n_syn, np.int64)
        st = self.state_
        if st is None or st["last_arrival"].size != n_syn:
            never = -(np.int64(1) << 60)
            st = self.state_ = {
                "last_arrival": np.full(n_syn, never), "last_post": np.full(n_post, never),
                "ring": np.zeros((int(self.delay_.max(initial=0)) + 1, n_pre), np.bool_),
                "prev_post": np.zeros(n_post, np.bool_), "clock": np.zeros(1, np.int64)}
        return TripletState(*(st[f] for f in TripletState._fields))

    def update(self, weights, x_pre, x_post, dt, mod) -> None:
        st = self._state(weights, x_pre.size, x_post.size)
        if self.table_dt_ != dt:
            self.tables_ = [trace_table(tau, dt) for tau in self.taus]
            self.table_dt_ = dt
        triplet_update(weights.flat_values(), _synapses(weights), self.delay_, st,
                       TripletTables(*self.tables_), x_pre, x_post, mod, self.params)
