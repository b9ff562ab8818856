"""The VPRSNN network in PyTorch, many modules batched in one tensor (CPU or CUDA).

The same network, constants, step order and initial weights/delays (from the same seed)
as :mod:`biosim.vpr.snn_numba`; only the Poisson draws differ (``torch.Generator``), so
the two backends agree in distribution, not spike for spike. The step is time-driven and
dense: every module's (n_input, n_e) input weights are touched each step, which suits a GPU
(``device="cuda"``) where all modules of a dataset train together; on a CPU the numba
backend, which propagates only the spikes that occurred, is much faster.

snntorch's neurons (``Leaky``, ``Synaptic``, ...) are current-based with a zero/subtract
reset; VPRSNN's neurons are conductance-based (reversal potentials), reset to a voltage
other than rest, are refractory and carry the adaptive threshold and timer of Diehl & Cook,
so they are written here as plain torch tensor updates.
"""
from __future__ import annotations

import numpy as np

from biosim.core.random import make_rng
from biosim.core.validation import fail, integer
from biosim.vpr.snn_numba import (INITIAL_REST, SNNParams, check_pixels, init_module,
                                  kernel_constants)


class TorchVPRSNN:
    """Independent VPRSNN modules advanced together, one batched tensor step at a time.

    ``present(pixels_per_module, train)``: as :class:`biosim.vpr.snn_numba.NumbaVPRSNN`;
    modules with the same number of images run as one batch. ``modules`` exposes each
    module's ``W`` (n_input, n_e), ``delays`` and ``theta`` as NumPy arrays.
    """

    backend = "torch"

    def __init__(self, n_modules: int, n_input: int, n_e: int, params: SNNParams | None = None,
                 seed=None, device: str = "cpu", dtype: str = "float32"):
        import torch

        self.params = params or SNNParams()
        if self.params.min_spikes:
            fail("params.min_spikes", "0 on the torch backend (the re-presentation of quiet "
                 "images is numba's)", self.params.min_spikes)
        self.n_modules = integer("n_modules", n_modules, low=1)
        self.n_input = integer("n_input", n_input, low=1)
        self.n_e = integer("n_e", n_e, low=1)
        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype)
        seeds = np.random.SeedSequence(make_rng(seed).integers(2**63)).spawn(2 * n_modules)
        init = [init_module(n_input, n_e, self.params, s) for s in seeds[:n_modules]]
        self.W = torch.tensor(np.stack([m["W"] for m in init]), dtype=self.dtype,
                              device=self.device)
        self.theta = torch.tensor(np.stack([m["theta"] for m in init]), dtype=self.dtype,
                                  device=self.device)
        self.delays = torch.tensor(np.stack([m["delays"] for m in init]), device=self.device)
        self._gen = torch.Generator(device=self.device)
        self._gen.manual_seed(int(make_rng(seeds[n_modules]).integers(2**62)))
        self._state = None

    @property
    def modules(self) -> list[dict]:
        def np64(t):
            return t.cpu().double().numpy()

        return [{"W": np64(self.W[m]), "theta": np64(self.theta[m]),
                 "delays": self.delays[m].cpu().numpy()} for m in range(self.n_modules)]

    def set_modules(self, modules: list[dict]):
        import torch

        for name in ("W", "theta", "delays"):
            t = torch.tensor(np.stack([m[name] for m in modules]), device=self.device)
            setattr(self, name, t if name == "delays" else t.to(self.dtype))
        self.reset_state()

    def reset_state(self):
        """Forget the dynamic state (voltages, conductances, traces); keep W and theta."""
        self._state = None

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
        self._state = None if not st else {
            k: int(v) if k == "clock" else torch.tensor(v, device=self.device)
            for k, v in st.items()}
        self._gen.set_state(torch.from_numpy(np.asarray(saved["generator"], np.uint8)))

    def _fresh_state(self):
        import torch

        p, M, n_in, n_e = self.params, self.n_modules, self.n_input, self.n_e
        z = dict(dtype=self.dtype, device=self.device)
        never = -1e12
        ts = dict(dtype=torch.float64, device=self.device)   # times in steps, exact
        return {
            "v_e": torch.full((M, n_e), p.v_rest_e, **z), "ge_e": torch.zeros(M, n_e, **z),
            "gi_e": torch.zeros(M, n_e, **z),
            "timer": torch.full((M, n_e), p.timer_rate * INITIAL_REST, **z),
            "refr_e": torch.zeros(M, n_e, **ts), "v_i": torch.full((M, n_e), p.v_rest_i, **z),
            "ge_i": torch.zeros(M, n_e, **z), "gi_i": torch.zeros(M, n_e, **z),
            "refr_i": torch.zeros(M, n_e, **ts), "last_post": torch.full((M, n_e), never, **ts),
            "last_arr": torch.full((M, n_in, n_e), never, **ts),
            "clock": 0,
        }

    def present(self, pixels_per_module, train: bool, seed=None) -> list[np.ndarray]:
        """Show module ``m`` the images ``pixels_per_module[m]``; spike counts per module.

        ``seed`` fixes this call's Bernoulli draws (otherwise each call draws new ones).
        """
        import torch

        gen = self._gen
        if seed is not None:
            gen = torch.Generator(device=self.device)
            gen.manual_seed(int(make_rng(seed).integers(2**62)))
        if self._state is None:
            self._state = self._fresh_state()
        pix = check_pixels(pixels_per_module, self.n_modules, self.n_input)
        out = [None] * len(pix)
        groups: dict[int, list[int]] = {}
        for m, x in enumerate(pix):
            groups.setdefault(x.shape[0], []).append(m)
        clock = self._state["clock"]
        for n_img, idx in groups.items():
            batch = torch.tensor(np.stack([pix[m] for m in idx]), dtype=self.dtype,
                                 device=self.device)
            counts = self._run(torch.tensor(idx, device=self.device), batch, bool(train),
                               clock, gen)
            for b, m in enumerate(idx):
                out[m] = counts[b].cpu().numpy().astype(np.int64)
        n_steps = self.params.present_steps + self.params.rest_steps
        self._state["clock"] = clock + n_steps * max(x.shape[0] for x in pix)
        return out

    def _run(self, idx, pixels, train, clock, gen):
        import torch

        with torch.no_grad():
            return self._run_batch(idx, pixels, train, clock, gen)

    def _run_batch(self, idx, pixels, train, clock, gen):
        """Advance the modules ``idx`` through their images; times are float64 steps."""
        import torch

        p, k = self.params, kernel_constants(self.params)
        st = {key: (v[idx].clone() if torch.is_tensor(v) else v) for key, v in self._state.items()}
        W, theta = self.W[idx].clone(), self.theta[idx].clone()
        delays = self.delays[idx]
        B, n_img, n_in = pixels.shape
        n_e, D = self.n_e, p.delay_steps + 1
        hist = torch.zeros(B, n_in, D, dtype=self.dtype, device=self.device)
        counts = torch.zeros(B, n_img, n_e, dtype=torch.int64, device=self.device)
        eye = torch.eye(n_e, dtype=self.dtype, device=self.device)
        dt = p.dt
        t = clock
        for img in range(n_img):
            if train:
                W *= k.weight_sum / W.sum(dim=1, keepdim=True).clamp_min(1e-30)
            prob = pixels[:, img] * (k.rate_scale * dt * 1e-3)
            for s in range(k.n_present + k.n_rest):
                # 1. state update (Euler) and thresholds
                free_e = t >= st["refr_e"]
                v = st["v_e"]
                dv = dt * ((k.v_rest_e - v) + st["ge_e"] * (k.e_exc - v)
                           + st["gi_e"] * (k.e_inh_e - v)) / k.tau_e
                st["v_e"] = torch.where(free_e, v + dv, v)
                st["ge_e"] *= k.ge_decay
                st["gi_e"] *= k.gi_decay
                st["timer"] += k.timer_step
                if train:
                    theta *= k.theta_decay
                fire_e = free_e & (st["v_e"] > theta - k.offset + k.v_thresh_e) & (
                    st["timer"] > k.refrac_e)
                free_i = t >= st["refr_i"]
                v = st["v_i"]
                dv = dt * ((k.v_rest_i - v) + st["ge_i"] * (k.e_exc - v)
                           + st["gi_i"] * (k.e_inh_i - v)) / k.tau_i
                st["v_i"] = torch.where(free_i, v + dv, v)
                st["ge_i"] *= k.ge_decay
                st["gi_i"] *= k.gi_decay
                fire_i = free_i & (st["v_i"] > k.v_thresh_i)
                # 2. input spikes: Bernoulli per step; hist[..., d] holds the spikes of
                # d steps ago, so a synapse with delay d receives hist[..., d] now
                hist = torch.roll(hist, 1, dims=2)
                if s < k.n_present:
                    hist[:, :, 0] = (torch.rand(B, n_in, generator=gen, device=self.device,
                                                dtype=self.dtype) < prob).to(self.dtype)
                else:
                    hist[:, :, 0] = 0.0
                arr = torch.gather(hist, 2, delays)                      # (B, n_in, n_e)
                st["ge_e"] += (arr * W).sum(dim=1)
                if train:
                    post1 = torch.exp(-(t - st["last_post"]) * dt / p.tau_post1).to(self.dtype)
                    W += arr * (k.sign * k.nu_pre) * post1[:, None, :]
                    W.clamp_(0.0, k.w_max)
                    st["last_arr"] = torch.where(arr > 0, float(t), st["last_arr"])
                # 3. excitatory spikes
                fe = fire_e.to(self.dtype)
                st["ge_i"] += k.w_ei * fe
                if s < k.n_present:
                    counts[:, img] += fire_e
                if train and bool(fire_e.any()):
                    post2 = torch.exp(-(t - st["last_post"]) * dt / p.tau_post2).to(self.dtype) * fe
                    pre = torch.exp(-(t - st["last_arr"]) * dt / p.tau_pre).to(self.dtype)
                    W += k.nu_post * pre * post2[:, None, :]
                    W.clamp_(max=k.w_max)
                    st["last_post"] = torch.where(fire_e, float(t), st["last_post"])
                    theta += k.theta_plus * fe
                st["v_e"] = torch.where(fire_e, k.v_reset_e, st["v_e"])
                st["timer"] = torch.where(fire_e, 0.0, st["timer"])
                st["refr_e"] = torch.where(fire_e, float(t + k.refrac_e_steps), st["refr_e"])
                # 4. inhibitory spikes: all-but-self inhibition
                fi = fire_i.to(self.dtype)
                st["gi_e"] += k.w_ie * (fi @ (1.0 - eye))
                st["v_i"] = torch.where(fire_i, k.v_reset_i, st["v_i"])
                st["refr_i"] = torch.where(fire_i, float(t + k.refrac_i_steps), st["refr_i"])
                t += 1
        for key, v in st.items():
            if torch.is_tensor(v):
                self._state[key][idx] = v
        self.W[idx] = W
        self.theta[idx] = theta
        return counts
