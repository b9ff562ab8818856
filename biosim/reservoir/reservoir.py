"""The spiking reservoir: heterogeneous Izhikevich neurons, sparse random recurrence,
exponential or double-exponential synaptic currents, filtered spike trains as features.

The neurons are those of :mod:`biosim.neurons.izhikevich` (the general quadratic form,
stepped by its ``izhikevich_update``): ``model="izhikevich2003"`` with the paper's
r-randomisation (excitatory RS: c = -65 + 15 r^2, d = 8 - 6 r^2; inhibitory: a = 0.02 +
0.08 r, b = 0.25 - 0.05 r), or ``model="nicola_clopath"`` (Nicola & Clopath 2017: C = 250,
k = 2.5, v_r = -60, v_t = -20, a = 0.01, b = -2, d = 200, c = -65, homogeneous). The
recurrent spikes are delivered by the core CSR kernel (:mod:`biosim.core.projection`).

Spikes of neuron j are filtered into r_j(t) (units 1/ms, unit area per spike)::

    single exponential (tau_rise = 0):  r' = -r / tau_decay + sum_spikes delta(t - t_s) / tau_decay
    double exponential:                 r' = -r / tau_decay + h,  h' = -h / tau_rise
                                        + sum_spikes delta(t - t_s) / (tau_rise tau_decay)

and the recurrent synaptic current of neuron i is I_syn,i = sum_j W_ij r_j (as in Nicola &
Clopath), kept event-driven: the same filter applied to W^T (spikes).

The kernels are pure functions over small records (:class:`Kernel`: :class:`State`,
:class:`Neurons`, :class:`Synapses`, :class:`Csr`), each with a NumPy twin or a reference
that tests compare against.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from biosim.core import validation as check
from biosim.core.connectivity import fixed_probability
from biosim.core.io import data_class
from biosim.core.projection import _csr_values
from biosim.core.random import make_rng
from biosim.neurons.izhikevich import COEFFICIENTS
from biosim.neurons.izhikevich import Quadratic, izhikevich_update

MODELS = ("izhikevich2003", "nicola_clopath")
#: the reservoir's time step in ms when none is given (the what/when task's too)
DEFAULT_DT = 0.5


# ------------------------------------------------------------------ kernel records
class State(NamedTuple):
    """Per-neuron state: v (mV), u, the filtered spike trains r (1/ms) and their rise
    variable hr, the recurrent current J and hJ (= W^T r and W^T hr once the last spikes are
    delivered), the spikes of the last step (delivered at the start of the next)."""

    v: np.ndarray
    u: np.ndarray
    r: np.ndarray
    hr: np.ndarray
    J: np.ndarray
    hJ: np.ndarray
    spikes: np.ndarray


class Neurons(NamedTuple):
    """Per-neuron a, b, c, d, bias; the coefficients ``q`` and the integration scheme."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    bias: np.ndarray
    q: Quadratic
    published: bool


class Synapses(NamedTuple):
    """Time step and synaptic filter time constants (ms; tau_rise = 0: single exponential)."""

    dt: float
    tau_rise: float
    tau_decay: float


class Csr(NamedTuple):
    """Recurrent weights, rows = pre (the layout of :class:`biosim.core.projection.Weights`)."""

    data: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray


class Kernel(NamedTuple):
    """Everything one reservoir step reads and writes (arrays are the reservoir's own)."""

    state: State
    neurons: Neurons
    syn: Synapses
    W: Csr


# ------------------------------------------------------------------ numba kernels
@njit(cache=True)
def filter_step(x, hx, drive, syn):
    """One step of the synaptic filter of ``drive`` (weighted spikes of this step):
    double exponential when tau_rise > 0 (x += h dt, h decays and jumps by drive/(tau_r
    tau_d)), else single exponential (x jumps by drive/tau_d)."""
    dt, tr, td = syn.dt, syn.tau_rise, syn.tau_decay
    dec_d = math.exp(-dt / td)
    if tr > 0.0:
        dec_r = math.exp(-dt / tr)
        for k in range(x.size):
            x[k] = x[k] * dec_r + hx[k] * dt
            hx[k] = hx[k] * dec_d + drive[k] / (tr * td)
    else:
        for k in range(x.size):
            x[k] = x[k] * dec_d + drive[k] / td


def filter_step_numpy(x, hx, drive, syn):
    """NumPy twin of :func:`filter_step`; returns the new (x, hx)."""
    dt, tr, td = syn
    if tr > 0.0:
        return x * math.exp(-dt / tr) + hx * dt, hx * math.exp(-dt / td) + drive / (tr * td)
    return x * math.exp(-dt / td) + drive / td, hx


@njit(cache=True)
def step(k, I_ext, cur, drive):
    """One reservoir step, in the order of the Network path (projection, then population):
    the spikes of the previous step are delivered by the core CSR kernel and J filters
    W^T spikes; I = bias + I_ext + J; the neurons step
    (:func:`biosim.neurons.izhikevich.izhikevich_update`); r filters the new spikes. ``k``
    is a :class:`Kernel`; ``cur``/``drive`` are work buffers of length n."""
    st, nr = k.state, k.neurons
    drive[:] = 0.0
    _csr_values(k.W.data, k.W.indptr, k.W.indices, st.spikes, drive)
    filter_step(st.J, st.hJ, drive, k.syn)
    for j in range(st.v.size):
        cur[j] = nr.bias[j] + I_ext[j] + st.J[j]
    for j in range(st.v.size):
        st.v[j], st.u[j], st.spikes[j] = izhikevich_update(
            st.v[j], st.u[j], nr.a[j], nr.b[j], nr.c[j], nr.d[j], cur[j], k.syn.dt, nr.q,
            nr.published)
    filter_step(st.r, st.hr, st.spikes, k.syn)


@njit(cache=True)
def run_features(k, I, R, S):
    """Steps of the rows of I (steps, n): the features r in R (steps, n) and, if S has
    rows, the spikes in S."""
    n = k.state.v.size
    cur, drive = np.empty(n), np.empty(n)
    for t in range(I.shape[0]):
        step(k, I[t], cur, drive)
        R[t] = k.state.r
        if S.shape[0]:
            S[t] = k.state.spikes


@data_class
class Reservoir:
    """A sparse random spiking reservoir with input channels.

    Parameters
    ----------
    n : int
        Number of neurons.
    frac_exc : float
        Fraction of excitatory neurons (first ``round(frac_exc n)`` units); the rest are
        inhibitory. Ignored by ``model="nicola_clopath"`` (no Dale's law there).
    p : float
        Connection probability of the recurrent weights.
    g : float
        Recurrent gain. Weights W_ij = g w_ij / sqrt(p n) with w_ij ~ U(0, 1) (excitatory
        pre, times ``w_exc``) or -U(0, 1) (inhibitory pre, times ``w_inh``) for
        izhikevich2003, and w_ij ~ N(0, 1) for nicola_clopath (their G / (sqrt(n) p) scaling
        is g = G / sqrt(p)).
    model : "izhikevich2003" or "nicola_clopath"
    tau_rise, tau_decay : float
        Synaptic filter time constants in ms (tau_rise = 0: single exponential).
    dt : float
        Time step in ms (default :data:`DEFAULT_DT`, 0.5 ms).
    scheme : "published" or "euler"
        Integration (see :func:`biosim.neurons.izhikevich.izhikevich_step`); default published
        for izhikevich2003, euler for nicola_clopath (their scheme).
    bias : float
        Constant current (model units); ``bias_std`` adds a per-neuron N(0, bias_std^2) offset.
    noise_std : float
        Std of an independent Gaussian current redrawn every step (0: deterministic).
    n_inputs : int
        Input channels (cue, stimuli, ...); each projects to every neuron with probability
        ``input_p`` and weight ``input_gain`` x U(0, 1).
    seed : int, SeedSequence or Generator

    The defaults are the what/when reservoir (``models/what_when.toml``); each trial starts
    from the same state, and with ``noise_std`` up to 3 the when readout still peaks within
    11 ms of the stimulus (N = 200, measured).
    """

    def __init__(self, n=200, *, frac_exc=0.8, p=0.1, g=200.0, w_exc=0.5, w_inh=1.0,
                 model="izhikevich2003", tau_rise=0.0, tau_decay=50.0, dt=DEFAULT_DT, scheme=None,
                 bias=4.0, bias_std=3.0, noise_std=0.0, n_inputs=1, input_p=0.3,
                 input_gain=20.0, seed=None):
        self.n = check.integer("n", n, low=2)
        self.frac_exc = check.probability("frac_exc", frac_exc)
        self.p = check.number("p", p, low=0.0, high=1.0, low_open=True)
        self.g = check.nonnegative("g", g)
        self.w_exc = check.nonnegative("w_exc", w_exc)
        self.w_inh = check.nonnegative("w_inh", w_inh)
        self.model = check.choice("model", model, MODELS)
        self.tau_rise = check.nonnegative("tau_rise", tau_rise, "ms")
        self.tau_decay = check.positive("tau_decay", tau_decay, "ms")
        self.dt = check.positive("dt", dt, "ms")
        default = "published" if model == "izhikevich2003" else "euler"
        self.scheme = check.choice("scheme", scheme or default, ("published", "euler"))
        limit = 1.0 if self.scheme == "published" else 0.5
        if model == "nicola_clopath":
            limit = 0.1
        if self.dt > limit:
            check.fail("dt", f"<= {limit} ms for model {model!r} with scheme {self.scheme!r}",
                       dt)
        self.bias = check.number("bias", bias)
        self.bias_std = check.nonnegative("bias_std", bias_std)
        self.noise_std = check.nonnegative("noise_std", noise_std)
        self.n_inputs = check.integer("n_inputs", n_inputs, low=0)
        self.input_p = check.probability("input_p", input_p)
        self.input_gain = check.number("input_gain", input_gain)
        self.rng = make_rng(seed)
        n_syn = self.p * self.n * self.n  # ~24 bytes a synapse, ~30 floats a neuron
        check.memory("n", 24.0 * n_syn + 8.0 * self.n * (30 + self.n_inputs),
                     f"{self.n} neurons with p = {self.p:g}", n)
        self._build()
        self.reset_state()

    # ------------------------------------------------------------ construction
    def _build(self):
        n, rng = self.n, self.rng
        self.n_exc = n if self.model == "nicola_clopath" else int(round(self.frac_exc * n))
        r = rng.random(n)
        exc = np.arange(n) < self.n_exc
        if self.model == "izhikevich2003":
            a = np.where(exc, 0.02, 0.02 + 0.08 * r)
            b = np.where(exc, 0.2, 0.25 - 0.05 * r)
            c = np.where(exc, -65.0 + 15.0 * r**2, -65.0)
            d = np.where(exc, 8.0 - 6.0 * r**2, 2.0)
        else:
            a, b = np.full(n, 0.01), np.full(n, -2.0)
            c, d = np.full(n, -65.0), np.full(n, 200.0)
        self.a, self.b, self.c, self.d = a, b, c, d
        self.bias_ = self.bias + self.bias_std * rng.standard_normal(n)
        # recurrent CSR, rows = pre
        pre, post = fixed_probability(self.p, allow_self=False)(n, n, rng, same=True)
        scale = self.g / math.sqrt(self.p * n)
        if self.model == "izhikevich2003":
            w = rng.random(pre.size)
            w = np.where(pre < self.n_exc, self.w_exc * w, -self.w_inh * w) * scale
        else:
            w = rng.standard_normal(pre.size) * scale
        self.indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(pre, minlength=n), out=self.indptr[1:])
        self.indices = post.astype(np.int64)
        self.data = w
        # input channels (n_inputs, n)
        self.W_in = (self.input_gain * rng.random((self.n_inputs, n))
                     * (rng.random((self.n_inputs, n)) < self.input_p))
        if self.model == "izhikevich2003":
            self.v0 = np.full(n, -65.0)
        else:
            self.v0 = -60.0 + 90.0 * rng.random(n)  # v_r + (v_peak - v_r) U(0, 1)
        self.u0 = np.zeros(n) if self.model == "nicola_clopath" else b * self.v0
        self._noise_rng = np.random.default_rng(rng.integers(2**63))

    @property
    def quadratic(self) -> Quadratic:
        """The neurons' coefficients (v_peak 30 mV)."""
        return Quadratic(*COEFFICIENTS[self.model], 30.0)

    @property
    def W(self) -> np.ndarray:
        """Dense recurrent weights, shape (n_pre, n_post)."""
        W = np.zeros((self.n, self.n))
        W[np.repeat(np.arange(self.n), np.diff(self.indptr)), self.indices] = self.data
        return W

    def reset_state(self) -> None:
        """Put the reservoir back to its initial state (v0, u0, zero currents): ``state``
        holds the arrays of :class:`State` by name."""
        n = self.n
        self.state = {"v": self.v0.copy(), "u": self.u0.copy(),
                      **{k: np.zeros(n) for k in ("r", "hr", "J", "hJ")},
                      "spikes": np.zeros(n, np.bool_)}

    def kernel(self) -> Kernel:
        """The records the numba kernels read (views of this reservoir's arrays)."""
        return Kernel(State(**self.state),
                      Neurons(self.a, self.b, self.c, self.d, self.bias_, self.quadratic,
                              self.scheme == "published"),
                      Synapses(self.dt, self.tau_rise, self.tau_decay),
                      Csr(self.data, self.indptr, self.indices))

    def check_finite(self, steps: int) -> None:
        """Raise if v or u became NaN/inf in the last ``steps`` steps (a diverging unit
        otherwise goes silent and the readouts return plausible numbers)."""
        for name in ("v", "u"):
            if not np.isfinite(self.state[name]).all():
                raise check.BiosimError(
                    f"reservoir: {name} became non-finite within a run of "
                    f"{steps * self.dt:g} ms (lower g, the inputs, bias or noise)")

    def currents(self, inputs, noise: bool = True, out=None) -> np.ndarray:
        """External current per step, shape (steps, n): inputs (steps, n_inputs) @ W_in,
        plus (``noise``) Gaussian noise of std ``noise_std`` (drawn from the reservoir's
        stream); written into ``out`` when given (an array of that shape)."""
        x = check.array("inputs", inputs, ndim=2)
        check.memory("dt", 24.0 * x.shape[0] * self.n, f"{x.shape[0]} steps of {self.n} "
                     f"neurons at dt = {self.dt:g} ms", self.dt)
        if x.shape[1] != self.n_inputs:
            check.fail("inputs", f"shape (steps, n_inputs={self.n_inputs})", f"shape {x.shape}")
        I = np.matmul(x, self.W_in, out=out)
        if noise and self.noise_std > 0:
            I += self.noise_std * self._noise_rng.standard_normal(I.shape)
        return I

    def add_to(self, net, name: str = "reservoir", noise: bool = True, center: bool = False):
        """Add this reservoir to a :class:`~biosim.core.Network` (of the same dt): its
        neurons as a :class:`~biosim.reservoir.ReservoirPopulation` (its current state), its
        recurrent weights as a core CSR projection of its spikes onto the input ``syn``
        (filtered into J by the population), and, with ``noise`` and ``noise_std`` > 0, a
        ``GaussianNoise`` drawn from the network's stream. Inputs come
        from the network: an ``ArrayCurrent`` of ``currents(x, noise=False)`` or projections
        from other populations. Returns the population. A reservoir drawn from the network's
        seed: ``Reservoir(n, ..., seed=net.rng()).add_to(net)`` (the next child stream, as
        every object the network draws for). ``center``: the population's activity is the
        centred features r - mean(r) (see :class:`~biosim.reservoir.ReservoirPopulation`)."""
        from biosim.core import GaussianNoise
        from biosim.core.projection import Projection, Weights
        from biosim.reservoir.network import ReservoirPopulation

        pop = net.add(ReservoirPopulation(self, name, center))
        w = Weights(self.n, self.n, data=self.data.copy(), indptr=self.indptr.copy(),
                    indices=self.indices.copy())
        net.add(Projection(pop, pop, w, target="syn", source="spikes"))
        if noise and self.noise_std > 0:
            net.add(GaussianNoise(pop, self.noise_std))
        return pop

    def run(self, inputs, record_spikes=False):
        """Run the reservoir without readouts, on a :class:`~biosim.core.Network`
        (:meth:`add_to`, an ``ArrayCurrent`` of :meth:`currents`, monitors of r and the
        spikes; ``Network.run`` picks the fused kernel :func:`run_features`), from and back
        to this reservoir's state. Returns the features r (steps, n) and, when asked, the
        spike raster (steps, n) as bool."""
        import warnings

        from biosim.core import ArrayCurrent, Network
        from biosim.core.validation import BiosimWarning

        I = self.currents(inputs)
        T = I.shape[0]
        net = Network(dt=self.dt)  # draws nothing: the noise is in I, from this stream
        pop = self.add_to(net, noise=False)
        net.add(ArrayCurrent(pop, I))
        rates = net.monitor(pop, "r")
        spikes = net.monitor(pop, "spikes") if record_spikes else None
        with warnings.catch_warnings():  # a run of a few steps is meant here
            warnings.simplefilter("ignore", BiosimWarning)
            try:
                net.run(T * self.dt, fused=True)
            finally:
                self.state = pop.state
        self.check_finite(T)
        R = rates.values.reshape(T, self.n)
        if not record_spikes:
            return R
        S = np.zeros((T, self.n), np.bool_)
        S[spikes.steps, spikes.i] = True
        return R, S
