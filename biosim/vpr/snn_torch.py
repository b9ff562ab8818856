"""The VPRSNN network in PyTorch, many modules batched in one tensor (CPU or CUDA).

The same network, constants, step order and initial weights/delays (from the same seed)
as :mod:`biosim.vpr.snn_numba`; only the Poisson draws differ (``torch.Generator``), so
the two backends agree in distribution, not spike for spike (fed the same input spikes
they agree spike for spike, ``tests/vpr/test_snn_torch.py``). snntorch's neurons are
current-based with a zero/subtract reset; VPRSNN's are conductance-based, reset to a
voltage other than rest, refractory, with Diehl & Cook's adaptive threshold and timer, so
they are written here as plain tensor updates.

Built for the GPU: nothing in the presentation loop waits for the device (no ``.item()``,
no Python branch on a tensor: masks and ``torch.where``); every tensor the loop touches is
allocated before it, so one whole presentation can be captured as a CUDA graph
(``graph=True``) and the step compiled into fused kernels (``compile=True``). The input
spikes of an image are drawn in one call before its presentation. The step is dense: each
module's (n_input, n_e) input weights are read and written once per step (an arrival
mask from the delays, the pre-synaptic update where an input arrives, the post-synaptic
update where a neuron fired), which a compiled step aims to do in one pass (not yet measured
on a GPU); the
inputs' recent spikes are bits of an int64 (a spike ``d`` steps ago is bit ``d``), so an
arrival is ``(history >> delay) & 1`` and the age of the last arrival (the pre trace) its
lowest set bit, with no per-synapse state besides the weight. Neuron state is float64
(small; theta's decay per step, 5e-8, is below float32's resolution), weights ``dtype``.
On a CPU the numba backend, which propagates only the spikes that occurred, is much faster.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from biosim.core.plasticity import trace_table
from biosim.core.random import make_rng
from biosim.core.validation import choice, fail, flag, integer
from biosim.vpr.snn_numba import (INITIAL_REST, SNNParams, check_pixels, init_module,
                                  kernel_constants)

WORD = 62            # history bits per int64 word (shifts never reach the sign bit)
NEVER = -(1 << 40)   # the time (steps) of a spike that never happened
# inductor: recompute the per-synapse intermediates (history >> delay, age) inside the one
# pass over the weights rather than store them (a 4-byte weight, 1-byte delay synapse
# would otherwise move an 8-byte int64 twice more per step)
FUSE = {"realize_reads_threshold": 64, "realize_opcount_threshold": 1000,
        "realize_acc_reads_threshold": 64, "realize_cpu_opcount_threshold": 1000,
        "realize_cpu_acc_reads_threshold": 64}
STATE = ("v_e", "ge_e", "gi_e", "timer", "refr_e", "v_i", "ge_i", "gi_i", "refr_i",
         "last_post", "hist", "old")


class _C(NamedTuple):
    """Step constants beyond :func:`~biosim.vpr.snn_numba.kernel_constants`."""
    n_words: int     # int64 words of input history
    window: int      # steps of history kept (delays 0 .. window - 1)
    n_pre: int       # trace table lengths (a trace is 0 from there on, as numba's tables)
    n_p1: int
    n_p2: int
    tau_pre: float
    tau_post1: float
    tau_post2: float


def _ctz(x):
    """Index of the lowest set bit of each positive int64 (any value where ``x == 0``)."""
    import torch

    return torch.log2((x & -x).double()).round().long()


def _arrived(hist, dly, c):
    """Per synapse, the bits of its input's history from its delay on: bit 0 is the spike
    arriving now, bit ``k`` the one that arrived ``k`` steps ago (int64; for a history of
    several words, the bits of the word that holds the delay)."""
    import torch

    if c.n_words == 1:
        return hist[:, None, :, 0] >> dly
    x = torch.zeros_like(dly, dtype=torch.int64)
    for w in range(c.n_words):
        sh = dly.long() - WORD * w
        x = torch.where((sh >= 0) & (sh < WORD), hist[:, None, :, w] >> sh.clamp(0, WORD - 1), x)
    return x


def _age(hist, old, dly, t, c):
    """Steps since each synapse's last arrival (0: one arrives now), at most ``c.n_pre``
    (the pre trace is 0 from there on): the lowest arrived bit, else the last spike that
    left the history. int16, so that storing it (the compiled step may) costs 2 bytes per
    synapse and not 8."""
    import torch

    if c.n_words == 1:
        x = _arrived(hist, dly, c)
        age = torch.where(x != 0, _ctz(x), t - old[:, None, :] - dly)
    else:
        age = t - old[:, None, :] - dly
        for w in range(c.n_words - 1, -1, -1):
            sh = dly.long() - WORD * w
            y = torch.where(sh < WORD, hist[:, None, :, w] >> sh.clamp(0, WORD - 1), 0)
            age = torch.where(y != 0, (-sh).clamp_min(0) + _ctz(y), age)
    return age.clamp(max=c.n_pre).to(torch.int16 if c.n_pre < 2**15 else torch.int32)


def _step(st, W, theta, dly, spk, t, count, k, c, train: bool, lazy: bool = False):
    """One time step of every module, in place, in Brian2's order (as ``run_images``).

    ``st``: the state dict (:data:`STATE`); ``W`` (B, n_e, n_in); ``theta`` (B, n_e);
    ``dly`` (B, n_e, n_in) delays in steps; ``spk`` (B, n_in) this step's input spikes;
    ``t`` the step (0-d int64 tensor); ``count`` (B, n_e) spikes so far. No host sync,
    unless ``lazy`` (a CPU, where it costs nothing): then the post-synaptic update is
    skipped in the steps where no neuron fired.
    """
    import torch

    # 1. state update (Euler) and thresholds
    st["timer"].add_(k.timer_step)
    if train:
        theta.mul_(k.theta_decay)
    v, vi = st["v_e"], st["v_i"]
    free_e, free_i = t >= st["refr_e"], t >= st["refr_i"]
    u = v + k.dt * ((k.v_rest_e - v) + st["ge_e"] * (k.e_exc - v)
                    + st["gi_e"] * (k.e_inh_e - v)) / k.tau_e
    ui = vi + k.dt * ((k.v_rest_i - vi) + st["ge_i"] * (k.e_exc - vi)
                      + st["gi_i"] * (k.e_inh_i - vi)) / k.tau_i
    v.copy_(torch.where(free_e, u, v))
    vi.copy_(torch.where(free_i, ui, vi))
    for g, f in (("ge_e", k.ge_decay), ("gi_e", k.gi_decay), ("ge_i", k.ge_decay),
                 ("gi_i", k.gi_decay)):
        x = st[g] * f
        st[g].copy_(torch.where(x > 1e-30, x, 0.0))   # flushed as numba's
    fire_e = free_e & (v > theta - k.offset + k.v_thresh_e) & (st["timer"] > k.refrac_e)
    fire_i = free_i & (vi > k.v_thresh_i)
    # 2. input spikes: shift the history one step, this step's spikes into bit 0
    hist, old = st["hist"], st["old"]
    top = c.window - 1 - WORD * (c.n_words - 1)        # the oldest step's bit, last word
    out = (hist[..., -1] >> top) & 1
    old.copy_(torch.where(out != 0, t - c.window, old))
    low = (1 << (WORD - 1)) - 1
    for w in range(c.n_words - 1, 0, -1):
        hist[..., w] = ((hist[..., w] & low) << 1) | (hist[..., w - 1] >> (WORD - 1))
    hist[..., 0] = ((hist[..., 0] & low) << 1) | spk.long()
    hist[..., -1] &= (1 << (top + 1)) - 1
    # arrivals now (the spike of `delay` steps ago); while training on a GPU, from each
    # synapse's age (one int16 tensor for both; a CPU computes ages only when one fired)
    if train and not lazy:
        age = _age(hist, old, dly, t, c)
        arr = age == 0
    else:
        arr = (_arrived(hist, dly, c) & 1) != 0
    st["ge_e"].add_(torch.where(arr, W, 0.0).sum(dim=2))
    if train:
        dp = t - st["last_post"]
        p1 = torch.where(dp < c.n_p1, k.sign * k.nu_pre * torch.exp(-dp.double() * k.dt
                                                                  / c.tau_post1), 0.0)
        p1w = p1.to(W.dtype)[:, :, None]
        Wa = torch.where(arr & (p1w != 0), (W + p1w).clamp(0.0, k.w_max), W)
        if lazy and not bool(fire_e.any()):   # a CPU: branching costs nothing there
            W.copy_(Wa)
        else:   # the post-synaptic term of the neurons that fired now
            if lazy:
                age = _age(hist, old, dly, t, c)
            p2 = torch.where((dp < c.n_p2) & fire_e,
                             torch.exp(-dp.double() * k.dt / c.tau_post2), 0.0)
            p2w = p2.to(W.dtype)[:, :, None]
            pre = torch.exp(-age.to(W.dtype) * k.dt / c.tau_pre)
            W.copy_(torch.where((p2w > 0) & (age < c.n_pre),
                                (Wa + k.nu_post * pre * p2w).clamp(max=k.w_max), Wa))
        st["last_post"].copy_(torch.where(fire_e, t, st["last_post"]))
        theta.copy_(torch.where(fire_e, theta + k.theta_plus, theta))
    # 3. excitatory spikes: exc -> inh, reset (float64 sums, as numba's)
    st["ge_i"].copy_(torch.where(fire_e, st["ge_i"] + k.w_ei, st["ge_i"]))
    count.add_(fire_e)
    v.copy_(torch.where(fire_e, k.v_reset_e, v))
    st["timer"].copy_(torch.where(fire_e, 0.0, st["timer"]))
    st["refr_e"].copy_(torch.where(fire_e, t + k.refrac_e_steps, st["refr_e"]))
    # 4. inhibitory spikes: all-but-self inhibition, reset
    n_i = fire_i.sum(dim=1, keepdim=True)
    st["gi_e"].add_(k.w_ie * (n_i - fire_i.long()).double())
    st["v_i"].copy_(torch.where(fire_i, k.v_reset_i, st["v_i"]))
    st["refr_i"].copy_(torch.where(fire_i, t + k.refrac_i_steps, st["refr_i"]))
    t.add_(1)


class TorchVPRSNN:
    """Independent VPRSNN modules advanced together, one batched tensor step at a time.

    ``present(pixels_per_module, train)``: as :class:`biosim.vpr.snn_numba.NumbaVPRSNN`;
    modules with the same number of images run as one batch. ``modules`` exposes each
    module's ``W`` (n_input, n_e), ``delays`` and ``theta`` as NumPy arrays. ``dtype``: of
    the weights ("float32" or "float64"). ``graph``: replay each presentation as a CUDA
    graph (captured at the first image of each batch shape; ignored on a CPU).
    ``compile``: fuse the step with ``torch.compile`` (minutes of compilation at the first
    presentation; meant for CUDA, works on a CPU with a C++ compiler).
    """

    backend = "torch"

    def __init__(self, n_modules: int, n_input: int, n_e: int, params: SNNParams | None = None,
                 seed=None, device: str = "cpu", dtype: str = "float32", graph: bool = False,
                 compile: bool = False):
        import torch

        self.params = params or SNNParams()
        if self.params.min_spikes:
            fail("params.min_spikes", "0 on the torch backend (the re-presentation of quiet "
                 "images is numba's)", self.params.min_spikes)
        self.n_modules = integer("n_modules", n_modules, low=1)
        self.n_input = integer("n_input", n_input, low=1)
        self.n_e = integer("n_e", n_e, low=1)
        choice("dtype", dtype, ("float32", "float64"))
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype)
        self.graph = flag("graph", graph) and self.device.type == "cuda"
        self.compile = flag("compile", compile)
        p = self.params
        window = p.delay_steps + 1
        self._k = kernel_constants(p)
        self._c = _C(-(-window // WORD), window,
                     *(len(trace_table(tau, p.dt)) for tau in (p.tau_pre, p.tau_post1,
                                                                p.tau_post2)),
                     p.tau_pre, p.tau_post1, p.tau_post2)
        seeds = np.random.SeedSequence(make_rng(seed).integers(2**63)).spawn(2 * n_modules)
        init = [init_module(n_input, n_e, p, s) for s in seeds[:n_modules]]
        self._gen = torch.Generator(device=self.device)
        self._gen.manual_seed(int(make_rng(seeds[n_modules]).integers(2**62)))
        self._set(np.stack([m["W"] for m in init]), np.stack([m["theta"] for m in init]),
                  np.stack([m["delays"] for m in init]))
        self._step = _step
        self._lazy = self.device.type == "cpu" and not self.compile
        if self.compile:
            import torch._inductor.config as inductor

            self._step = torch.compile(_step, fullgraph=True, dynamic=True, options={
                key: v for key, v in FUSE.items() if hasattr(inductor, key)})

    def _set(self, W, theta, delays):
        """Weights and delays (M, n_input, n_e) are held as (M, n_e, n_input): each neuron's
        inputs contiguous, so that the step's sum over inputs and its weight update walk the
        same memory in the same order (one fused pass when compiled)."""
        import torch

        def rows(a, dtype):
            return torch.tensor(np.ascontiguousarray(np.swapaxes(a, 1, 2)), dtype=dtype,
                                device=self.device)

        self.W = rows(W, self.dtype)
        self.theta = torch.tensor(theta, dtype=torch.float64, device=self.device)
        self.delays = rows(delays, torch.uint8 if self._c.window <= 256 else torch.int16)
        self._batches = {}   # static tensors (and graphs) per batch of modules
        self._state = None

    @property
    def modules(self) -> list[dict]:
        def np64(t):
            return t.cpu().double().numpy()

        return [{"W": np64(self.W[m].T), "theta": np64(self.theta[m]),
                 "delays": self.delays[m].T.cpu().numpy().astype(np.int64)}
                for m in range(self.n_modules)]

    def set_modules(self, modules: list[dict]):
        self._set(*(np.stack([m[name] for m in modules]) for name in ("W", "theta", "delays")))

    def reset_state(self):
        """Forget the dynamic state (voltages, conductances, traces); keep W and theta."""
        self._state = None
        self._batches = {}

    def training_state(self) -> dict:
        """Everything a training run changes (weights, thresholds, dynamic state, the
        generator), as NumPy data: :meth:`set_training_state` continues exactly."""
        st = {} if self._state is None else {
            k: v.cpu().numpy() if hasattr(v, "cpu") else np.asarray(v, np.int64)
            for k, v in self._state.items()}
        return {"modules": [{k: m[k] for k in ("W", "delays", "theta")} for m in self.modules],
                "state": st, "generator": self._gen.get_state().numpy()}

    def set_training_state(self, saved: dict) -> None:
        import torch

        self.set_modules(saved["modules"])
        st = saved["state"]
        if st and set(st) != {*STATE, "clock"}:
            fail("checkpoint", "a torch training state of this biosim version (its dynamic "
                 "state has other fields; delete the checkpoint to start over)", sorted(st))
        self._state = None if not st else {
            k: int(v) if k == "clock" else torch.tensor(v, device=self.device)
            for k, v in st.items()}
        self._gen.set_state(torch.from_numpy(np.asarray(saved["generator"], np.uint8)))

    def _fresh_state(self):
        import torch

        p, M, n_in, n_e = self.params, self.n_modules, self.n_input, self.n_e
        f = dict(dtype=torch.float64, device=self.device)
        i = dict(dtype=torch.int64, device=self.device)
        return {
            "v_e": torch.full((M, n_e), p.v_rest_e, **f), "ge_e": torch.zeros(M, n_e, **f),
            "gi_e": torch.zeros(M, n_e, **f),
            "timer": torch.full((M, n_e), p.timer_rate * INITIAL_REST, **f),
            "refr_e": torch.zeros(M, n_e, **i), "v_i": torch.full((M, n_e), p.v_rest_i, **f),
            "ge_i": torch.zeros(M, n_e, **f), "gi_i": torch.zeros(M, n_e, **f),
            "refr_i": torch.zeros(M, n_e, **i), "last_post": torch.full((M, n_e), NEVER, **i),
            "hist": torch.zeros(M, n_in, self._c.n_words, **i),
            "old": torch.full((M, n_in), NEVER, **i),
            "clock": 0,
        }

    def present(self, pixels_per_module, train: bool, seed=None) -> list[np.ndarray]:
        """Show module ``m`` the images ``pixels_per_module[m]``; spike counts per module.

        ``seed`` fixes this call's Bernoulli draws (otherwise each call draws new ones).
        """
        pix = check_pixels(pixels_per_module, self.n_modules, self.n_input)
        return self._present(pix, bool(train), seed)

    def _present(self, pix, train, seed=None, spikes=None):
        """``spikes`` (tests): per module, the input spikes (n_images, n_present, n_input)
        to use instead of drawing them."""
        import torch

        gen = self._gen
        if seed is not None:
            gen = torch.Generator(device=self.device)
            gen.manual_seed(int(make_rng(seed).integers(2**62)))
        if self._state is None:
            self._state = self._fresh_state()
        out = [None] * len(pix)
        groups: dict[int, list[int]] = {}
        for m, x in enumerate(pix):
            groups.setdefault(x.shape[0], []).append(m)
        clock = self._state["clock"]
        for n_img, idx in groups.items():
            given = None if spikes is None else [spikes[m] for m in idx]
            counts = self._run(idx, np.stack([pix[m] for m in idx]), train, clock, gen, given)
            for b, m in enumerate(idx):
                out[m] = counts[b]
        n_steps = self.params.present_steps + self.params.rest_steps
        self._state["clock"] = clock + n_steps * max(x.shape[0] for x in pix)
        return out

    def _batch(self, idx):
        """The static tensors of the modules ``idx``: views of the whole set when ``idx``
        is all of them, else buffers kept per ``idx`` (copied in and out at each call)."""
        import torch

        key = tuple(idx)
        b = self._batches.get(key)
        if b is None:
            whole = len(idx) == self.n_modules
            sel = slice(None) if whole else torch.tensor(idx, device=self.device)
            src = {"W": self.W, "theta": self.theta, "dly": self.delays,
                   **{name: self._state[name] for name in STATE}}
            b = {name: v if whole else v[sel].clone() for name, v in src.items()}
            B, n_p = len(idx), self.params.present_steps
            b["whole"], b["sel"] = whole, sel
            b["t"] = torch.zeros((), dtype=torch.int64, device=self.device)
            b["u"] = torch.empty(n_p, B, self.n_input, device=self.device)
            b["spk"] = torch.zeros(n_p + 1, B, self.n_input, dtype=torch.bool,
                                   device=self.device)   # the last row: no spikes (rest)
            b["prob"] = torch.empty(B, self.n_input, device=self.device)
            b["count"] = torch.zeros(B, self.n_e, dtype=torch.int64, device=self.device)
            b["counted"] = torch.zeros_like(b["count"])
            b["graphs"] = {}
            self._batches[key] = b
        elif not b["whole"]:
            for name in ("W", "theta", *STATE):
                src = {"W": self.W, "theta": self.theta}.get(name, self._state.get(name))
                b[name].copy_(src[b["sel"]])
        return b

    def _run(self, idx, pixels, train, clock, gen, spikes=None):
        import torch

        p = self.params
        with torch.no_grad():
            b = self._batch(idx)
            b["t"].fill_(clock)
            probs = torch.tensor(pixels * (p.rate_scale * p.dt * 1e-3), dtype=torch.float32,
                                 device=self.device)
            counts = torch.zeros(len(idx), pixels.shape[1], self.n_e, dtype=torch.int64,
                                 device=self.device)
            for img in range(pixels.shape[1]):
                self._show(b, probs[:, img], train, gen,
                           None if spikes is None else [s[img] for s in spikes])
                counts[:, img] = b["counted"]
            if not b["whole"]:
                self.W[b["sel"]] = b["W"]
                self.theta[b["sel"]] = b["theta"]
                for name in STATE:
                    self._state[name][b["sel"]] = b[name]
            return counts.cpu().numpy()

    def _show(self, b, prob, train, gen, spikes=None):
        """Draw one image's input spikes (``prob`` (B, n_input) per step) and present it;
        nothing here waits for the device."""
        import torch

        if spikes is None:
            b["prob"].copy_(prob)
            torch.rand(b["u"].shape, generator=gen, device=self.device, out=b["u"])
            torch.lt(b["u"], b["prob"], out=b["spk"][:-1])
        else:
            b["spk"][:-1].copy_(torch.as_tensor(np.stack(spikes, axis=1), device=self.device))
        self._image(b, train)

    def _image(self, b, train):
        """One presentation (n_present + n_rest steps) of the drawn spikes ``b["spk"]``,
        replayed from a CUDA graph when ``graph``."""
        import torch

        if not self.graph:
            return self._steps(b, train)
        g = b["graphs"].get(train)
        if g is None:
            # warm up (compiles, loads kernels) on a copy of the state, then capture
            keep = {n: b[n].clone() for n in ("W", "theta", "t", *STATE)}
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self._steps(b, train)
            torch.cuda.current_stream().wait_stream(side)
            for n, v in keep.items():
                b[n].copy_(v)
            g = b["graphs"][train] = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                self._steps(b, train)
        g.replay()

    def _steps(self, b, train):
        """Normalise (training), then every step of one presentation; no host sync."""
        import torch

        k, c, p = self._k, self._c, self.params
        W = b["W"]
        if train and k.weight_sum > 0.0:
            col = W.sum(dim=2, keepdim=True)
            W.mul_(torch.where(col > 0.0, k.weight_sum / col, 1.0))
        b["count"].zero_()
        st = {name: b[name] for name in STATE}
        n_p = p.present_steps
        for s in range(n_p + p.rest_steps):
            self._step(st, W, b["theta"], b["dly"], b["spk"][min(s, n_p)], b["t"],
                       b["count"], k, c, train, self._lazy)
            if s == n_p - 1:
                b["counted"].copy_(b["count"])
